using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Diagnostics;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.FakeSsm;

namespace S3Mount.Ssm.Tests;

/// <summary>
/// The engine's node operations carried by the fleet runner through the fake SSM service to sandbox nodes, parsed
/// exactly as the cmdlets parse them: the same script text as the local path, one SendCommand for all nodes.
/// </summary>
public class FleetNodeOperationsTests : IDisposable
{
    private readonly string _sandbox = Directory.CreateTempSubdirectory("s3mount-fleet-e2e-").FullName;
    private readonly string _user = Environment.UserName;

    private (FakeSsmServer Fake, List<string> Ids, string Offline) Fleet(int nodes)
    {
        var uid = Sh("id -u");
        var gid = Sh("id -g");
        var fake = new FakeSsmServer();
        var ids = new List<string>();
        for (var i = 1; i <= nodes; i++)
        {
            var id = Ssm.Id(i);
            fake.AddInstance(id, SandboxInstance.Prepare(Path.Combine(_sandbox, id), _user, uid, gid));
            ids.Add(id);
        }

        var offline = Ssm.Id(99);
        fake.AddNode(new FakeNode(offline, new SimulatedInstance()) { PingStatus = "ConnectionLost" });
        return (fake, ids, offline);
    }

    private static List<FleetNodeResult<T>> Run<T>(FakeSsmServer fake, NodeScript script, IEnumerable<string> ids, Func<ResultBlock, T> parse)
    {
        using var ssm = Ssm.Client(fake.Endpoint);
        var runner = new FleetRunner(ssm, null, new FleetRunnerOptions { PollInterval = TimeSpan.FromMilliseconds(50), MaxPollInterval = TimeSpan.FromMilliseconds(100) });
        var results = new List<FleetNodeResult<T>>();
        var sink = new DelegateFleetSink<T>(r => { lock (results) { results.Add(r); } });
        runner.RunAsync(new FleetRunRequest { Script = script.Text, InstanceIds = ids.ToList() }, o => parse(new ScriptOutput(o.ExitCode, o.Stdout, o.Stderr).Block(o.InstanceId)), sink, CancellationToken.None)
            .GetAwaiter().GetResult();
        return results;
    }

    [Fact]
    public void Create_list_remove_on_three_nodes_in_one_command_each_with_an_error_for_the_offline_node_only()
    {
        var (fake, ids, offline) = Fleet(3);
        using var _ = fake;
        var spec = MountSpec.Create("s3://genomics-ref/hg38/", "/fsx/ref", options: new MountOptions { ReadOnly = true, AllowOther = true }, user: _user);

        var created = Run(fake, NodeOperations.Create(new CreateRequest(spec)), ids.Append(offline), b => NodeResultParser.Create(b));
        Assert.Equal(4, created.Count);
        Assert.Equal(ids.OrderBy(i => i), created.Where(r => r.IsSuccess).Select(r => r.InstanceId).OrderBy(i => i));
        Assert.All(created.Where(r => r.IsSuccess), r => Assert.True(r.Value!.Changed && r.Value.Service.Spec == spec));
        var failed = Assert.Single(created, r => !r.IsSuccess);
        Assert.Equal(offline, failed.InstanceId);
        Assert.Equal(FleetOutcome.AgentOffline, failed.Outcome);
        Assert.Equal(1, fake.Calls["SendCommand"]);

        var listed = Run(fake, NodeOperations.List(), ids, NodeResultParser.Services);
        Assert.All(listed, r => Assert.Equal(spec.UnitName, Assert.Single(r.Value!.Items).Name));
        Assert.All(ids, id => Assert.True(File.Exists(Path.Combine(_sandbox, id, "etc/systemd/system", spec.UnitName))));

        var removed = Run(fake, NodeOperations.Remove(new[] { spec.UnitName }), ids, NodeResultParser.Removals);
        Assert.All(removed, r => Assert.Single(r.Value!.Items));
        Assert.All(ids, id => Assert.False(File.Exists(Path.Combine(_sandbox, id, "etc/systemd/system", spec.UnitName))));
    }

    [Fact]
    public void A_node_side_refusal_comes_back_with_the_scripts_own_error_id()
    {
        var (fake, ids, _) = Fleet(2);
        using var _f = fake;
        var spec = MountSpec.Create("my-bucket", "/mnt/s3", user: "nobody-such-user");
        var results = Run(fake, NodeOperations.Create(new CreateRequest(spec)), ids, b => NodeResultParser.Create(b));
        Assert.All(results, r =>
        {
            Assert.Equal(FleetOutcome.Failed, r.Outcome);
            Assert.Equal("S3MountUserUnknown", r.ErrorId);
            Assert.Contains("nobody-such-user", r.ErrorMessage);
        });
    }

    [Fact]
    public void A_mount_map_converges_three_sandbox_nodes_in_one_command_and_again_changes_nothing()
    {
        var (fake, ids, _) = Fleet(3);
        using var _f = fake;
        var map = MountMap.FromSpecs(Enumerable.Range(1, 8).Select(i => MountSpec.Create("fleet-bucket-" + i, "/mnt/fleet/" + i, options: new MountOptions { ReadOnly = true }, user: _user)));
        var synced = Run(fake, NodeOperations.Sync(new SyncRequest(map) { Apply = true }), ids, b => NodeResultParser.Sync(b, map));
        Assert.Equal(1, fake.Calls["SendCommand"]);
        Assert.All(synced, r => Assert.Equal(8, r.Value!.Items.Count(i => i.Changed && i.State == MountDrift.Missing)));
        var again = Run(fake, NodeOperations.Sync(new SyncRequest(map) { Apply = true }), ids, b => NodeResultParser.Sync(b, map));
        Assert.All(again, r => Assert.All(r.Value!.Items, i => Assert.Equal((MountDrift.InSync, false), (i.State, i.Changed))));
    }

    [Fact]
    public void A_mount_map_for_1000_simulated_nodes_is_one_command_per_50_nodes()
    {
        using var fake = new FakeSsmServer();
        var ids = Enumerable.Range(1, 1000).Select(Ssm.Id).ToList();
        var map = MountMap.FromSpecs(Enumerable.Range(1, 8).Select(i => MountSpec.Create("fleet-bucket-" + i, "/mnt/fleet/" + i)));
        var answer = "S3MOUNT-RESULT 1\n" + string.Concat(map.Mounts.Select((s, i) => $"sync {i + 1} {s.UnitName} InSync none ~\n")) + "S3MOUNT-END\n";
        foreach (var id in ids)
        {
            fake.AddInstance(id, new SimulatedInstance { Latency = TimeSpan.Zero, Stdout = _ => answer });
        }

        var results = Run(fake, NodeOperations.Sync(new SyncRequest(map)), ids, b => NodeResultParser.Sync(b, map));
        Assert.Equal(1000, results.Count(r => r.IsSuccess && r.Value!.Items.Count == 8));
        Assert.Equal(20, fake.Calls["SendCommand"]);
        Assert.True(fake.TotalCalls < 8000 / 25, $"{fake.TotalCalls} API calls for 1,000 nodes x 8 mounts (a naive loop sends 8,000 commands alone)");
    }

    private static string Sh(string command)
    {
        using var p = Process.Start(new ProcessStartInfo("/bin/sh", new[] { "-c", command }) { RedirectStandardOutput = true })!;
        var o = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return o;
    }

    public void Dispose() => Directory.Delete(_sandbox, recursive: true);
}
