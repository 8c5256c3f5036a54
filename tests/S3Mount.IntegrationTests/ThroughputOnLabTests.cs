using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.FakeSsm;
using S3Mount.Lab;
using static S3Mount.IntegrationTests.LabTestHelpers;

namespace S3Mount.IntegrationTests;

/// <summary>Three nodes of their own for the throughput check.</summary>
public sealed class ThroughputLabFixture : LabFixture
{
    protected override int NodeCount => 3;

    protected override LabOptions Options => new() { StandInPreinstalled = true, StartPackageServer = false, NodeNamePrefix = "tput" };
}

[CollectionDefinition(Name)]
public sealed class ThroughputLabCollection : ICollectionFixture<ThroughputLabFixture>
{
    public const string Name = "Throughput lab";
}

/// <summary>One node for the comparison with dd by hand.</summary>
public sealed class ThroughputProofLabFixture : LabFixture
{
    protected override int NodeCount => 1;

    protected override LabOptions Options => new() { StandInPreinstalled = true, StartPackageServer = false, NodeNamePrefix = "tpdd" };
}

/// <summary>
/// The comparison with dd by hand runs alone, after the collections that run in parallel: a measurement must not share
/// this machine's two cores with the other lab tests (other jobs on the machine still do).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThroughputProofLabCollection : ICollectionFixture<ThroughputProofLabFixture>
{
    public const string Name = "Throughput against dd";
}

/// <summary>
/// Issue 16's proof of the throughput check on real systemd nodes over the mount-s3 stand-in (s3fs and a loopback S3
/// server): its figures against dd run by hand on the same mount in the same run, its refusals, the mount's owner, the
/// time limit, a cancelled run, and a fleet of three lab nodes through the fake SSM service.
/// </summary>
[Collection(ThroughputLabCollection.Name)]
public sealed class ThroughputOnLabTests(ThroughputLabFixture fixture, ITestOutputHelper output)
{
    private const string Bucket = ThroughputLab.Bucket;
    private const long MiB = ThroughputLab.MiB;

    private NodeLab Lab => fixture.Lab;

    private async Task<IReadOnlyList<string>> KeysAsync(string prefix) => await Lab.ListObjectsAsync(Bucket, prefix, Ct);

    [Fact]
    public async Task A_read_only_mount_is_refused_for_writing_and_reads_existing_files_by_prefix_writing_nothing()
    {
        var node = Lab.Nodes[1];
        for (var i = 0; i < 3; i++)
        {
            await Lab.PutObjectAsync(Bucket, $"tput-ro/data/obj{i}", Enumerable.Range(0, (int)(2 * MiB) + i).Select(b => (byte)b).ToArray(), Ct);
        }

        await ThroughputLab.MountAsync(node, $"s3://{Bucket}/tput-ro/", "/mnt/tput-ro", new MountOptions { ReadOnly = true });
        var before = await KeysAsync("tput-ro/");

        var refused = await ThroughputLab.MeasureAsync(node, new ThroughputRequest { FileCount = 2, FileSize = MiB }, "/mnt/tput-ro");
        Assert.Empty(refused.Items);
        Assert.Equal("S3MountThroughputReadOnly", Assert.Single(refused.Failures).Error.ErrorId);

        var read = Assert.Single((await ThroughputLab.MeasureAsync(node, new ThroughputRequest { FileCount = 10, ReadPrefix = "data/", Parallelism = 2 }, "/mnt/tput-ro")).Items);
        output.WriteLine(FormattableString.Invariant($"read-only, existing files: read {read.ReadMBps:F1} MB/s, first byte {read.FirstByteMs:F0} ms"));
        Assert.False(read.Wrote);
        Assert.Equal(3, read.Files);
        Assert.Equal((3 * 2 * MiB) + 3, read.ReadBytes);
        Assert.Null(read.WriteMBps);
        Assert.NotNull(read.FirstByteMs);
        Assert.Null(read.Verified);
        Assert.Equal(0, read.ErrorCount);
        Assert.Equal(before, await KeysAsync("tput-ro/"));

        var none = await ThroughputLab.MeasureAsync(node, new ThroughputRequest { ReadPrefix = "nothing-here" }, "/mnt/tput-ro");
        Assert.Equal("S3MountThroughputNoFiles", Assert.Single(none.Failures).Error.ErrorId);
    }

    [Fact]
    public async Task A_mount_without_allow_delete_is_refused_before_anything_is_written()
    {
        var node = Lab.Nodes[1];
        await ThroughputLab.MountAsync(node, $"s3://{Bucket}/tput-nodelete/", "/mnt/tput-nodelete", MountOptions.Default);
        var r = await ThroughputLab.MeasureAsync(node, new ThroughputRequest { FileCount = 2, FileSize = MiB }, "/mnt/tput-nodelete");
        Assert.Equal("S3MountThroughputNoDelete", Assert.Single(r.Failures).Error.ErrorId);
        Assert.Empty(await KeysAsync("tput-nodelete/"));

        var missing = await ThroughputLab.MeasureAsync(node, new ThroughputRequest(), "/mnt/not-a-mount");
        Assert.Equal("S3MountServiceNotFound", Assert.Single(missing.Failures).Error.ErrorId);
    }

    [Fact]
    public async Task A_mount_of_another_user_is_measured_as_that_user()
    {
        var node = Lab.Nodes[2];
        await node.ShAsync("id tputuser >/dev/null 2>&1 || useradd -m tputuser", Ct);
        await ThroughputLab.MountAsync(node, $"s3://{Bucket}/tput-user/", "/mnt/tput-user", new MountOptions { AllowDelete = true }, user: "tputuser");
        var r = Assert.Single((await ThroughputLab.MeasureAsync(node, new ThroughputRequest { FileCount = 3, FileSize = 2 * MiB, Parallelism = 3 }, "/mnt/tput-user")).Items);
        Assert.True(r.Verified, string.Join("; ", r.Errors));
        Assert.Equal(0, r.ErrorCount);
        Assert.Equal(3 * 2 * MiB, r.ReadBytes);
        Assert.Empty(await KeysAsync("tput-user/"));
    }

    [Fact]
    public async Task The_time_limit_ends_the_run_and_what_it_wrote_is_deleted()
    {
        var node = Lab.Nodes[2];
        await ThroughputLab.MountAsync(node, $"s3://{Bucket}/tput-limit/", "/mnt/tput-limit", new MountOptions { AllowDelete = true });
        var sw = Stopwatch.StartNew();
        var r = Assert.Single((await ThroughputLab.MeasureAsync(node, new ThroughputRequest { FileCount = 400, FileSize = 8 * MiB, Parallelism = 1, TimeLimitSeconds = 10 }, "/mnt/tput-limit")).Items);
        sw.Stop();
        output.WriteLine(FormattableString.Invariant($"time limit 10 s: the script took {sw.Elapsed.TotalSeconds:F1} s, wrote {r.WrittenBytes / MiB} MiB in {r.WriteSeconds:F1} s"));
        Assert.True(r.TimedOut);
        Assert.InRange(r.WriteSeconds, 1, 12);
        Assert.True(r.WrittenBytes < 400 * 8 * MiB);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), "the run is bounded");
        Assert.Empty(await KeysAsync("tput-limit/"));
    }

    [Fact]
    public async Task A_cancelled_run_still_deletes_its_files()
    {
        var node = Lab.Nodes[2];
        await ThroughputLab.MountAsync(node, $"s3://{Bucket}/tput-cancel/", "/mnt/tput-cancel", new MountOptions { AllowDelete = true });

        // The lab's time limit sends SIGTERM to the script's process group after 8 s (SIGKILL 5 s later), as SSM's
        // CancelCommand and Ctrl+C stop a script: the check's trap deletes what it wrote.
        var script = Throughput.Script(new ThroughputRequest { FileCount = 400, FileSize = 8 * MiB, Parallelism = 2, TimeLimitSeconds = 600 }, null, new[] { "/mnt/tput-cancel" });
        var run = await node.RunScriptAsync(script, TimeSpan.FromSeconds(8), Ct);
        output.WriteLine("cancelled: exit " + run.ExitCode + ", " + run.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith("error ", StringComparison.Ordinal)));
        Assert.NotEqual(0, run.ExitCode);
        Assert.Equal("S3MountThroughputStopped", Assert.Throws<S3Mount.Engine.Errors.S3MountException>(() => Throughput.Parse(run.Block())).ErrorId);
        Assert.Empty(await KeysAsync("tput-cancel/"));
        Assert.Equal(string.Empty, await node.ShAsync("ls -A /mnt/tput-cancel; ls -d /tmp/s3mount-throughput.* 2>/dev/null || true", Ct));
    }

    [Fact]
    public async Task A_fleet_of_three_lab_nodes_through_the_fake_SSM_returns_three_results_that_started_together()
    {
        using var fake = new FakeSsmServer();
        var nodes = Lab.Nodes.Select((n, i) => (Id: "i-0f16" + (i + 1).ToString("D13", CultureInfo.InvariantCulture), Node: n)).ToList();
        foreach (var (id, node) in nodes)
        {
            fake.AddInstance(id, FleetOnLabTests.AsSsmNode(node));
        }

        var ids = nodes.Select(n => n.Id).ToList();
        var spec = MountSpec.Create($"s3://{Bucket}/tput-fleet/", "/mnt/tput-fleet", options: new MountOptions { AllowDelete = true });
        var created = await FleetOnLabTests.RunAsync(fake, NodeOperations.Create(new CreateRequest(spec)), ids, b => NodeResultParser.Create(b));
        Assert.All(created, r => Assert.True(r.IsSuccess, r.ToString()));

        // What Measure-S3MountThroughput sends to a fleet: one script, every node at once, an agreed start.
        var startAt = DateTimeOffset.UtcNow.AddSeconds(5).ToUnixTimeSeconds();
        var script = Throughput.Script(new ThroughputRequest { FileCount = 4, FileSize = 4 * MiB, Parallelism = 4, StartAt = startAt }, null, new[] { spec.Path });
        var sends = fake.Calls.GetValueOrDefault("SendCommand");
        var sw = Stopwatch.StartNew();
        var results = await FleetOnLabTests.RunAsync(fake, script, ids, Throughput.Parse, maxConcurrency: "100%");
        output.WriteLine($"fleet of 3: {sw.Elapsed.TotalSeconds:F1} s, {fake.Calls["SendCommand"] - sends} SendCommand");
        Assert.Equal(1, fake.Calls["SendCommand"] - sends);
        Assert.Equal(ids.Order(), results.Select(r => r.InstanceId).Order());
        foreach (var r in results)
        {
            Assert.True(r.IsSuccess, r.ToString());
            var m = Assert.Single(r.Value!.Items);
            output.WriteLine(FormattableString.Invariant($"{r.InstanceId} ({r.Value.Host}): write {m.WriteMBps:F1} MB/s, read {m.ReadMBps:F1} MB/s, first byte {m.FirstByteMs:F0} ms, late {m.StartLateMs} ms"));
            Assert.True(m.Verified, string.Join("; ", m.Errors));
            Assert.Equal(4 * 4 * MiB, m.ReadBytes);
            Assert.Equal(0, m.StartLateMs);
        }

        Assert.True(DateTimeOffset.UtcNow.ToUnixTimeSeconds() >= startAt, "the nodes waited for the agreed start");
        Assert.Empty(await KeysAsync("tput-fleet/"));
    }
}

/// <summary>What the throughput tests share: a mount on a node, and the check run there as the transports run it.</summary>
internal static class ThroughputLab
{
    public const string Bucket = "lab-bucket";
    public const long MiB = 1024 * 1024;

    public static async Task<NodeResult<ThroughputResult>> MeasureAsync(LabNode node, ThroughputRequest request, string path, TimeSpan? timeout = null) =>
        Throughput.Parse((await node.RunScriptAsync(Throughput.Script(request, null, new[] { path }), timeout, Ct)).Block());

    public static async Task MountAsync(LabNode node, string uri, string path, MountOptions options, string? user = null)
    {
        var created = await node.CreateAsync(new CreateRequest(MountSpec.Create(uri, path, options: options, user: user)), Ct);
        Assert.Equal(MountHealth.Healthy, created.Service.Health);
    }
}

/// <summary>
/// Issue 16's proof: the check's figures against dd run by hand on the same mount in the same run, on a lab node over
/// the mount-s3 stand-in.
/// </summary>
[Collection(ThroughputProofLabCollection.Name)]
public sealed class ThroughputAgainstDdTests(ThroughputProofLabFixture fixture, ITestOutputHelper output)
{
    private const string Bucket = ThroughputLab.Bucket;
    private const long MiB = ThroughputLab.MiB;

    private NodeLab Lab => fixture.Lab;

    private static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
    }

    /// <summary>
    /// dd by hand, as a person times it: "time dd" of each file (wall clock around each dd, so the open, which is a
    /// request to S3, is in it as it is in the check), the same files, sizes and block size, one at a time; then reads.
    /// Between them, as the check does, the first byte of each file is read (untimed here): where the page cache cannot
    /// be dropped (the lab's containers) that read warms the mount for the timed read in both, and without it the
    /// comparison measured the warming (read ratios of 1.24 in a loaded run, not the tool).
    /// </summary>
    private static async Task<(double Write, double Read, string Dd)> ByHandAsync(LabNode node, string dir, int files, long size)
    {
        var script = $"""
            set -e
            head -c {size} /dev/urandom >/tmp/hand-source
            mkdir -p {dir}
            w=0; r=0; dd=
            for i in $(seq 1 {files}); do t0=$(date +%s%N); dd if=/tmp/hand-source of={dir}/f$i bs=1M conv=fsync 2>/tmp/dd.err; t1=$(date +%s%N); w=$((w + t1 - t0)); dd="$dd$(tail -n 1 /tmp/dd.err); "; done
            for i in $(seq 1 {files}); do head -c 1 {dir}/f$i >/dev/null; done
            for i in $(seq 1 {files}); do t0=$(date +%s%N); dd if={dir}/f$i of=/dev/null bs=1M 2>/tmp/dd.err; t1=$(date +%s%N); r=$((r + t1 - t0)); dd="$dd$(tail -n 1 /tmp/dd.err); "; done
            for i in $(seq 1 {files}); do rm -f {dir}/f$i; done
            rmdir {dir}; rm -f /tmp/hand-source /tmp/dd.err
            echo "$w $r"
            echo "$dd"
            """;
        var lines = (await node.ShAsync(script, Ct)).Split('\n');
        var ns = lines[0].Split(' ').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        var bytes = (double)files * size;
        return (bytes / (ns[0] / 1e9) / 1e6, bytes / (ns[1] / 1e9) / 1e6, lines.Length > 1 ? lines[1] : string.Empty);
    }

    [Fact]
    public async Task The_figures_agree_within_20_percent_with_dd_run_by_hand_on_the_same_mount()
    {
        var node = Lab.Nodes[0];
        const string path = "/mnt/tput";
        await ThroughputLab.MountAsync(node, $"s3://{Bucket}/tput-dd/", path, new MountOptions { AllowDelete = true });
        const int files = 1;
        const long size = 64 * MiB;
        const int pairs = 20;
        var request = new ThroughputRequest { FileCount = files, FileSize = size, Parallelism = 1, TimeLimitSeconds = 300 };

        // Twenty pairs of one check and one run by hand, right after each other, the order turning each pair. This
        // machine's two cores are shared with other jobs whose load comes and goes (load average 20-30), which changes
        // a rate by half from one run to the next: the two runs of a pair see nearly the same load, so the comparison is
        // per pair, and the figure is the geometric mean of the twenty ratios (the noise multiplies the rates).
        var tool = new List<ThroughputResult>();
        var hand = new List<(double Write, double Read, string Dd)>();
        for (var pair = 0; pair < pairs; pair++)
        {
            if (pair % 2 == 1)
            {
                hand.Add(await ByHandAsync(node, path + "/by-hand", files, size));
            }

            tool.Add(Assert.Single((await ThroughputLab.MeasureAsync(node, request, path)).Items));
            if (pair % 2 == 0)
            {
                hand.Add(await ByHandAsync(node, path + "/by-hand", files, size));
            }
        }

        foreach (var t in tool)
        {
            output.WriteLine(FormattableString.Invariant($"check: write {t.WriteMBps:F1} MB/s, read {t.ReadMBps:F1} MB/s, first byte {t.FirstByteMs:F0} ms (max {t.FirstByteMaxMs:F0}), verified {t.Verified}, caches dropped {t.CachesDropped}"));
            Assert.True(t.Verified, string.Join("; ", t.Errors));
            Assert.Equal(0, t.ErrorCount);
            Assert.Equal(files * size, t.WrittenBytes);
            Assert.Equal(files * size, t.ReadBytes);
        }

        foreach (var h in hand)
        {
            output.WriteLine(FormattableString.Invariant($"by hand: write {h.Write:F1} MB/s, read {h.Read:F1} MB/s; dd said: {h.Dd}"));
        }

        static double GeoMean(IEnumerable<double> v) => Math.Exp(v.Select(x => Math.Log(x)).Average());
        var writeRatio = GeoMean(tool.Zip(hand, (t, h) => t.WriteMBps!.Value / h.Write));
        var readRatio = GeoMean(tool.Zip(hand, (t, h) => t.ReadMBps!.Value / h.Read));
        output.WriteLine(FormattableString.Invariant(
            $"medians: check write {Median(tool.Select(t => t.WriteMBps!.Value)):F1} MB/s, by hand {Median(hand.Select(h => h.Write)):F1} MB/s; check read {Median(tool.Select(t => t.ReadMBps!.Value)):F1} MB/s, by hand {Median(hand.Select(h => h.Read)):F1} MB/s"));
        output.WriteLine(FormattableString.Invariant($"check / by hand, geometric mean of {pairs} pairs: write {writeRatio:F3}, read {readRatio:F3}"));
        Assert.InRange(writeRatio, 0.8, 1.2);
        Assert.InRange(readRatio, 0.8, 1.2);

        // Nothing of either is left in the bucket.
        Assert.Empty(await Lab.ListObjectsAsync(Bucket, "tput-dd/", Ct));
        Assert.Equal(string.Empty, await node.ShAsync($"ls -A {path}", Ct));
    }

}
