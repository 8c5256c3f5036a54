using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Units;
using S3Mount.FakeSsm;
using S3Mount.Lab;

namespace S3Mount.IntegrationTests;

/// <summary>Three nodes of their own for the mount-map tests.</summary>
public sealed class SyncLabFixture : LabFixture
{
    protected override int NodeCount => 3;

    protected override LabOptions Options => new() { StandInPreinstalled = true, StartPackageServer = false, NodeNamePrefix = "sync" };
}

[CollectionDefinition(Name)]
public sealed class SyncLabCollection : ICollectionFixture<SyncLabFixture>
{
    public const string Name = "Mount map on three nodes";
}

/// <summary>
/// Compare and Sync end to end, exactly as the cmdlets send them: the sync script (plan for Compare and -WhatIf, apply
/// for Sync) through the fake SSM to three real systemd nodes, one SendCommand for all of them. Node 1 starts empty,
/// node 2 with one mount drifted (another option set) and one in sync, node 3 with an extra S3Mount mount and a
/// recipe-made unit on a mapped path.
/// </summary>
[Collection(SyncLabCollection.Name)]
public sealed class SyncOnLabTests
{
    private static readonly MountSpec A = MountSpec.Create("lab-bucket", "/mnt/map/a", options: new MountOptions { AllowDelete = true });
    private static readonly MountSpec B = MountSpec.Create("lab-bucket-2", "/mnt/map/b", options: new MountOptions { ReadOnly = true });
    private static readonly MountSpec C = MountSpec.Create("s3://lab-bucket/fleet/", "/mnt/map/c", options: new MountOptions { AllowOverwrite = true });
    private static readonly MountSpec R = MountSpec.Create("lab-bucket-2", "/mnt/map/r", options: new MountOptions { ReadOnly = true });
    private static readonly MountSpec Extra = MountSpec.Create("lab-bucket", "/mnt/map/extra");
    private static readonly MountMap Map = MountMap.FromSpecs(new[] { A, B, C, R });

    private readonly SyncLabFixture fixture;
    private readonly ITestOutputHelper output;

    public SyncOnLabTests(SyncLabFixture fixture, ITestOutputHelper output)
    {
        this.fixture = fixture;
        this.output = output;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Compare_reports_the_drift_Sync_converges_once_prunes_and_adopts_only_when_asked()
    {
        var lab = this.fixture.Lab;
        using var fake = new FakeSsmServer();
        var nodes = lab.Nodes.Select((n, i) => (Id: "i-0517c" + (i + 1).ToString("D12"), Node: n)).ToList();
        foreach (var (id, node) in nodes)
        {
            fake.AddInstance(id, FleetOnLabTests.AsSsmNode(node));
        }

        var ids = nodes.Select(n => n.Id).ToList();
        var (n1, n2, n3) = (nodes[0], nodes[1], nodes[2]);

        // Node 2: A with another option set (drifted), B exactly as mapped. Node 3: an extra S3Mount mount, and the
        // field recipe's unit for R's bucket and path (its name from the raw "BUCKET:DIR/", as mount.sh names it).
        Assert.True((await n2.Node.CreateAsync(new CreateRequest(A with { Options = new MountOptions { ReadOnly = true } }) { WaitSeconds = 30 }, Ct)).Changed);
        Assert.True((await n2.Node.CreateAsync(new CreateRequest(B) { WaitSeconds = 30 }, Ct)).Changed);
        Assert.True((await n3.Node.CreateAsync(new CreateRequest(Extra) { WaitSeconds = 30 }, Ct)).Changed);
        var recipeName = LabTestHelpers.RecipeName("lab-bucket-2", "/mnt/map/r/");
        var recipeUnit = "[Unit]\nDescription=Mount s3://lab-bucket-2 at /mnt/map/r/\nWants=network-online.target\nAfter=default.target\n\n" +
            "[Service]\nType=forking\nExecStart=/usr/bin/mount-s3 --read-only --allow-root lab-bucket-2 /mnt/map/r/\nExecStop=/usr/bin/fusermount -u /mnt/map/r\n\n[Install]\nWantedBy=default.target\n";
        await n3.Node.ShAsync("mkdir -p /mnt/map/r && chmod 777 /mnt/map/r", Ct);
        await n3.Node.WriteFileAsync("/etc/systemd/system/" + recipeName, recipeUnit, "0644", Ct);
        await n3.Node.ShAsync($"systemctl daemon-reload && systemctl enable --now {recipeName} 2>&1", Ct);

        async Task<Dictionary<string, string>> Snapshots() =>
            (await Task.WhenAll(nodes.Select(async n => (n.Id, Snap: await n.Node.SnapshotAsync(Ct, "/mnt/map") + "\n" + await UnitStatesAsync(n.Node)))))
                .ToDictionary(x => x.Id, x => x.Snap);

        var before = await Snapshots();

        // Compare: exactly the drift, read-only, one SendCommand for the three nodes.
        var sw = Stopwatch.StartNew();
        var compared = await SyncAsync(fake, new SyncRequest(Map), ids);
        this.output.WriteLine($"compare on 3 nodes: {sw.Elapsed.TotalSeconds:F1} s, SendCommand {fake.Calls.GetValueOrDefault("SendCommand")}");
        Assert.Equal(1, fake.Calls["SendCommand"]);
        Assert.All(compared.Values, r => Assert.Empty(r.Warnings));
        Assert.Equal(new[] { "1 Missing", "2 Missing", "3 Missing", "4 Missing" }, States(compared[n1.Id]));
        Assert.Equal(new[] { "1 Drifted", "2 InSync", "3 Missing", "4 Missing" }, States(compared[n2.Id]));
        Assert.Equal(new[] { "0 Extra", "1 Missing", "2 Missing", "3 Missing", "4 Foreign" }, States(compared[n3.Id]));
        var drifted = compared[n2.Id].Items.Single(i => i.State == MountDrift.Drifted);
        Assert.Equal(new[] { ("ReadOnly", (object?)true, (object?)null), ("AllowDelete", null, true) }, drifted.Differences.Select(d => (d.Field, d.Old, d.New)));
        var foreign = compared[n3.Id].Items.Single(i => i.State == MountDrift.Foreign);
        Assert.Equal((recipeName, UnitOrigin.Recipe, "keep"), (foreign.Name, foreign.Current!.Origin, foreign.Plan));
        Assert.Contains(foreign.Differences, d => d.Field == "AllowRoot");
        Assert.Equal((Extra.UnitName, "/mnt/map/extra", "keep"), compared[n3.Id].Items.Where(i => i.State == MountDrift.Extra).Select(i => (i.Name, i.Current!.Path, i.Plan)).Single());

        // Sync -WhatIf -Prune -Adopt: the plan, made on the nodes; nothing changes (byte for byte, unit states too).
        var plan = await SyncAsync(fake, new SyncRequest(Map) { Prune = true, Adopt = true }, ids);
        Assert.Equal(new[] { "1 create", "2 create", "3 create", "4 create" }, Plans(plan[n1.Id]));
        Assert.Equal(new[] { "1 update", "2 none", "3 create", "4 create" }, Plans(plan[n2.Id]));
        Assert.Equal(new[] { "0 remove", "1 create", "2 create", "3 create", "4 adopt" }, Plans(plan[n3.Id]));
        Assert.Equal(before, await Snapshots());

        // Sync: the three nodes get the map; the extra mount and the recipe unit are kept.
        var recipeHash = await n3.Node.ShAsync("sha256sum /etc/systemd/system/" + recipeName, Ct);
        var b2 = await UnitStateAsync(n2.Node, B.UnitName);
        sw.Restart();
        var synced = await SyncAsync(fake, new SyncRequest(Map) { Apply = true, WaitSeconds = 30 }, ids);
        this.output.WriteLine($"sync on 3 nodes (11 changes): {sw.Elapsed.TotalSeconds:F1} s");
        Assert.All(synced.Values.SelectMany(r => r.Items), i => Assert.Null(i.Error));
        Assert.Equal(new[] { "1 create True", "2 create True", "3 create True", "4 create True" }, Done(synced[n1.Id]));
        Assert.Equal(new[] { "1 update True", "2 none False", "3 create True", "4 create True" }, Done(synced[n2.Id]));
        Assert.Equal(new[] { "0 keep False", "1 create True", "2 create True", "3 create True", "4 keep False" }, Done(synced[n3.Id]));
        Assert.True(synced[n2.Id].Items.Single(i => i.Index == 1).Restarted);
        Assert.Equal(b2, await UnitStateAsync(n2.Node, B.UnitName));
        Assert.Equal(recipeHash, await n3.Node.ShAsync("sha256sum /etc/systemd/system/" + recipeName, Ct));
        foreach (var (id, node) in nodes)
        {
            var listed = await node.ListAsync(null, null, Ct);
            foreach (var spec in id == n3.Id ? new[] { A, B, C } : Map.Mounts)
            {
                var s = Assert.Single(listed.Items, x => x.Name == spec.UnitName);
                Assert.Equal((spec, MountHealth.Healthy, true), (s.Spec, s.Health, s.Enabled));
                Assert.Equal(UnitRenderer.Render(spec), await node.ReadFileAsync("/etc/systemd/system/" + spec.UnitName, Ct));
            }
        }

        // A second Sync: nothing changes, nothing restarts (start timestamps, NRestarts, main PIDs), byte for byte.
        var converged = await Snapshots();
        sw.Restart();
        var again = await SyncAsync(fake, new SyncRequest(Map) { Apply = true, WaitSeconds = 30 }, ids);
        this.output.WriteLine($"second sync on 3 nodes (no change): {sw.Elapsed.TotalSeconds:F1} s");
        Assert.All(again.Values.SelectMany(r => r.Items), i => Assert.Equal((false, false, false), (i.Attempted, i.Changed, i.Restarted)));
        Assert.Equal(new[] { "1 InSync", "2 InSync", "3 InSync", "4 InSync" }, States(again[n1.Id]));
        Assert.Equal(new[] { "0 Extra", "1 InSync", "2 InSync", "3 InSync", "4 Foreign" }, States(again[n3.Id]));
        Assert.Equal(converged, await Snapshots());

        // -Prune removes the extra mount (its directory stays); the recipe unit is still untouched.
        var pruned = await SyncAsync(fake, new SyncRequest(Map) { Apply = true, Prune = true, WaitSeconds = 30 }, ids);
        Assert.Equal(new[] { "0 remove True", "1 none False", "2 none False", "3 none False", "4 keep False" }, Done(pruned[n3.Id]));
        Assert.Equal("absent", await n3.Node.ShAsync($"test -e /etc/systemd/system/{Extra.UnitName} && echo present || echo absent", Ct));
        Assert.Null(await LabTestHelpers.FindMountAsync(n3.Node, "/mnt/map/extra"));
        Assert.Equal(recipeHash, await n3.Node.ShAsync("sha256sum /etc/systemd/system/" + recipeName, Ct));
        Assert.Equal(converged[n1.Id], (await Snapshots())[n1.Id]);

        // -Adopt takes the recipe unit over under its name: rewritten as S3Mount's, mounted as mapped.
        var adopted = await SyncAsync(fake, new SyncRequest(Map) { Apply = true, Adopt = true, WaitSeconds = 30 }, ids);
        var a = adopted[n3.Id].Items.Single(i => i.Index == 4);
        Assert.Equal(("adopt", true, true, recipeName), (a.Plan, a.Changed, a.Restarted, a.Name));
        Assert.Equal(UnitRenderer.Render(R), await n3.Node.ReadFileAsync("/etc/systemd/system/" + recipeName, Ct));
        Assert.Equal(MountHealth.Healthy, (await n3.Node.GetAsync(recipeName, Ct)).Health);
        Assert.All(adopted.Values.SelectMany(r => r.Items).Where(i => i != a), i => Assert.False(i.Changed));
        Assert.All((await SyncAsync(fake, new SyncRequest(Map), ids)).Values.SelectMany(r => r.Items), i => Assert.Equal(MountDrift.InSync, i.State));

        // A mount whose start fails is rolled back and reported; the node's other mounts are left converged.
        var broken = MountSpec.Create("no-such-bucket-s3m", "/mnt/map/broken");
        var withBroken = MountMap.FromSpecs(Map.Mounts.Append(broken));
        var n1Before = await n1.Node.SnapshotAsync(Ct, "/mnt/map");
        sw.Restart();
        var failed = await SyncAsync(fake, new SyncRequest(withBroken) { Apply = true, WaitSeconds = 10 }, new[] { n1.Id });
        this.output.WriteLine($"sync with a mount that cannot start: {sw.Elapsed.TotalSeconds:F1} s");
        var f = failed[n1.Id].Items.Single(i => i.Index == 5);
        Assert.Equal("S3MountStartFailed", f.Error?.ErrorId);
        Assert.Contains("Journal:", f.Error!.Message);
        Assert.All(failed[n1.Id].Items.Where(i => i != f), i => Assert.Equal((MountDrift.InSync, false), (i.State, i.Changed)));
        Assert.Equal(n1Before, await n1.Node.SnapshotAsync(Ct, "/mnt/map"));
    }

    private static string[] States(SyncResult r) => r.Items.Select(i => i.Index + " " + i.State).OrderBy(s => s, StringComparer.Ordinal).ToArray();

    private static string[] Plans(SyncResult r) => r.Items.Select(i => i.Index + " " + i.Plan).OrderBy(s => s, StringComparer.Ordinal).ToArray();

    private static string[] Done(SyncResult r) => r.Items.Select(i => i.Index + " " + i.Plan + " " + i.Changed).OrderBy(s => s, StringComparer.Ordinal).ToArray();

    /// <summary>What a restart changes, for every mount unit of the node: start time, restart count, main PID.</summary>
    private static Task<string> UnitStatesAsync(LabNode node) =>
        node.ShAsync("for u in $(systemctl list-units --all --plain --no-legend --full 'mountpoint-s3-*' | awk '{print $1}'); do " +
            "printf '%s ' \"$u\"; systemctl show -p ActiveEnterTimestampMonotonic,NRestarts,MainPID --value -- \"$u\" | tr '\\n' ' '; echo; done", Ct);

    private static Task<string> UnitStateAsync(LabNode node, string unit) =>
        node.ShAsync($"systemctl show -p ActiveEnterTimestampMonotonic,NRestarts,MainPID,ActiveState -- {unit}", Ct);

    private static async Task<Dictionary<string, SyncResult>> SyncAsync(FakeSsmServer fake, SyncRequest request, IReadOnlyList<string> ids)
    {
        var results = await FleetOnLabTests.RunAsync(fake, NodeOperations.Sync(request), ids, b => NodeResultParser.Sync(b, request.Map));
        Assert.All(results, r => Assert.True(r.IsSuccess, r.ToString()));
        return results.ToDictionary(r => r.InstanceId, r => r.Value!);
    }
}
