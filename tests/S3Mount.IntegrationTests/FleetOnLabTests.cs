using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using System.Diagnostics;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;
using S3Mount.Lab;

namespace S3Mount.IntegrationTests;

/// <summary>Three lab nodes of their own: one is stopped in the middle of a run.</summary>
public sealed class FleetLabFixture : LabFixture
{
    protected override int NodeCount => 3;

    protected override LabOptions Options => new() { StandInPreinstalled = true, NodeNamePrefix = "fleet" };
}

[CollectionDefinition(Name)]
public sealed class FleetLabCollection : ICollectionFixture<FleetLabFixture>
{
    public const string Name = "Fleet lab";
}

/// <summary>
/// The engine end to end: node scripts carried by the fleet runner through the fake SSM service (same wire
/// protocol, SigV4) to real systemd nodes, where the SSM command line runs with /bin/sh as the agent would.
/// </summary>
[Collection(FleetLabCollection.Name)]
public sealed class FleetOnLabTests
{
    private readonly FleetLabFixture fixture;
    private readonly ITestOutputHelper output;

    public FleetOnLabTests(FleetLabFixture fixture, ITestOutputHelper output)
    {
        this.fixture = fixture;
        this.output = output;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_on_three_nodes_in_one_call_list_back_and_a_node_stopped_mid_run_fails_alone()
    {
        var lab = this.fixture.Lab;
        using var fake = new FakeSsmServer();
        var nodes = lab.Nodes.Select((n, i) => (Id: "i-0fab" + (i + 1).ToString("D13"), Node: n)).ToList();
        TaskCompletionSource? victimStarted = null;
        foreach (var (id, node) in nodes)
        {
            // What the SSM agent runs: the command lines of AWS-RunShellScript, with /bin/sh (dash on Debian).
            var isVictim = id == nodes[2].Id;
            fake.AddInstance(id, AsSsmNode(node, () =>
            {
                if (isVictim)
                {
                    victimStarted?.TrySetResult();
                }
            }));
        }

        var ids = nodes.Select(n => n.Id).ToList();
        var spec = MountSpec.Create("s3://lab-bucket/fleet/", "/mnt/fleet data", options: new MountOptions { AllowDelete = true });

        var sw = Stopwatch.StartNew();
        var created = await RunAsync(fake, NodeOperations.Create(new CreateRequest(spec)), ids, b => NodeResultParser.Create(b));
        this.output.WriteLine($"create on 3 nodes through the fake SSM: {sw.Elapsed.TotalSeconds:F1} s, {fake.Calls.GetValueOrDefault("SendCommand")} SendCommand");
        Assert.Equal(ids.Order(), created.Select(r => r.InstanceId).Order());
        Assert.All(created, r => Assert.True(r.IsSuccess, r.ToString()));
        Assert.All(created, r => Assert.Equal(MountHealth.Healthy, r.Value!.Service.Health));
        Assert.Equal(1, fake.Calls["SendCommand"]);

        var listed = await RunAsync(fake, NodeOperations.List(), ids, NodeResultParser.Services);
        Assert.All(listed, r =>
        {
            var s = Assert.Single(r.Value!.Items);
            Assert.Equal(spec, s.Spec);
            Assert.True(s.Mounted);
        });

        // A second mount; the third node is stopped while the command runs.
        var second = MountSpec.Create("lab-bucket-2", "/mnt/fleet-2");
        victimStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var run = RunAsync(fake, NodeOperations.Create(new CreateRequest(second)), ids, b => NodeResultParser.Create(b));
        var victim = nodes[2];
        await victimStarted.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        await Task.Delay(300, Ct); // the create script is now starting the mount on the node
        await lab.RemoveNodeAsync(victim.Node, Ct);
        var results = await run;
        Assert.Equal(3, results.Count);
        Assert.All(results.Where(r => r.InstanceId != victim.Id), r => Assert.True(r.IsSuccess, r.ToString()));
        var failed = Assert.Single(results, r => !r.IsSuccess);
        Assert.Equal(victim.Id, failed.InstanceId);
        this.output.WriteLine("stopped node: " + failed);

        // Clean up the two nodes still running.
        var survivors = ids.Where(i => i != victim.Id).ToList();
        var removed = await RunAsync(fake, NodeOperations.Remove(new[] { spec.UnitName, second.UnitName }, force: true, removeDirectory: true), survivors, NodeResultParser.Removals);
        Assert.All(removed, r => Assert.Equal(2, r.Value!.Items.Count));
    }

    /// <summary>A lab node behind the fake SSM: it runs the AWS-RunShellScript command lines with /bin/sh, as the agent does.</summary>
    internal static DelegateInstance AsSsmNode(LabNode node, Action? onRun = null) =>
        DelegateInstance.FromExec(async (commands, _, _) =>
        {
            onRun?.Invoke();
            var r = await node.RunAsync(new[] { "/bin/sh", "-c", commands }, timeout: TimeSpan.FromMinutes(3), cancellationToken: Ct);
            return (r.ExitCode, r.StdOut, r.StdErr);
        });

    internal static async Task<List<FleetNodeResult<T>>> RunAsync<T>(FakeSsmServer fake, NodeScript script, IReadOnlyList<string> ids, Func<ResultBlock, T> parse, string? maxConcurrency = null)
    {
        using var ssm = new SsmClient(ResolvedAwsSettings.FromKeys("AKIAFLEETLAB00000001", "fleet/lab/secret/key/0000000000000000000", "us-east-1", fake.Endpoint));
        var runner = new FleetRunner(ssm, null, new FleetRunnerOptions { PollInterval = TimeSpan.FromMilliseconds(200), MaxPollInterval = TimeSpan.FromMilliseconds(500) });
        var results = new List<FleetNodeResult<T>>();
        var sink = new DelegateFleetSink<T>(r => { lock (results) { results.Add(r); } });
        await runner.RunAsync(new FleetRunRequest { Script = script.Text, InstanceIds = ids, MaxConcurrency = maxConcurrency }, o => parse(o.Block), sink, Ct);
        return results;
    }
}
