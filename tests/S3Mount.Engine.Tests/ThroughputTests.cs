using System.Diagnostics;
using System.Text.RegularExpressions;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Engine.Tests;

/// <summary>The throughput check's script, its worker under dash and bash, its request rules and its result.</summary>
public class ThroughputTests
{
    private static NodeScript Script(ThroughputRequest? r = null) => Throughput.Script(r ?? new ThroughputRequest(), null, new[] { "/mnt/s3" });

    [Fact]
    public void The_check_does_not_hold_the_node_lock_for_its_run()
    {
        // The node-lock helper's marker (lib.sh node_lock, NodeScript.Compose): operations that say it are composed without the lock.
        Assert.Contains(NodeScript.Source("measure").Split('\n'), l => l.StartsWith("# node lock: none", StringComparison.Ordinal));
        Assert.DoesNotContain("\nnode_lock ", Script().Text);
    }

    [Fact]
    public void Values_reach_the_script_as_parameters()
    {
        var text = Throughput.Script(new ThroughputRequest { FileCount = 3, FileSize = 1048576, Parallelism = 2, TimeLimitSeconds = 30, ReadPrefix = "data//x/", StartAt = 1700000000 }, new[] { "mountpoint-s3-17a82347" }, null).Text;
        foreach (var line in new[] { "FILE_COUNT='3'", "FILE_BYTES='1048576'", "PARALLEL='2'", "TIME_LIMIT='30'", "START_AT='1700000000'", "NAMES='mountpoint-s3-17a82347.service'", "ROOT=''", "READ_PREFIX='data/x'" })
        {
            Assert.Contains("\n" + line + "\n", text);
        }

        // A leading slash is refused, not silently made relative.
        Assert.Throws<S3MountException>(() => Script(new ThroughputRequest { ReadPrefix = "/data" }));
        Assert.Contains("\nREAD_PREFIX='data/x'\n", Script(new ThroughputRequest { ReadPrefix = "data//x/" }).Text);
    }

    [Theory]
    [InlineData(0, 1048576L, 1, 60, null)]
    [InlineData(10001, 1048576L, 1, 60, null)]
    [InlineData(1, 100L, 1, 60, null)]
    [InlineData(1, 6442450944L, 1, 60, null)]
    [InlineData(1, 1048576L, 0, 60, null)]
    [InlineData(1, 1048576L, 257, 60, null)]
    [InlineData(1, 1048576L, 1, 5, null)]
    [InlineData(1, 1048576L, 1, 60, "../etc")]
    [InlineData(1, 1048576L, 1, 60, "a/./b")]
    [InlineData(1, 1048576L, 1, 60, "a\nb")]
    public void Out_of_range_requests_are_refused_before_anything_runs(int files, long size, int parallel, int limit, string? prefix)
    {
        var e = Assert.ThrowsAny<S3MountException>(() => Script(new ThroughputRequest { FileCount = files, FileSize = size, Parallelism = parallel, TimeLimitSeconds = limit, ReadPrefix = prefix }));
        Assert.Contains(e.ErrorId, new[] { ErrorIds.OptionInvalid, ErrorIds.ControlCharacter });
    }

    [Fact]
    public void A_selection_is_required()
    {
        var e = Assert.Throws<S3MountException>(() => Throughput.Script(new ThroughputRequest(), null, null));
        Assert.Equal(ErrorIds.NameInvalid, e.ErrorId);
    }

    /// <summary>The worker the script runs as the mount's owner, extracted from the composed script.</summary>
    private static string Worker()
    {
        var text = Script().Text;
        var m = Regex.Match(text, "\nS3M_TP_WORKER='(.*?)\n'\n", RegexOptions.Singleline);
        Assert.True(m.Success, "the worker is in the script");
        Assert.DoesNotContain("'", m.Groups[1].Value); // it is one single-quoted word: an apostrophe would end it
        return m.Groups[1].Value;
    }

    private static string RunWorker(string shell, params string[] args)
    {
        var psi = new ProcessStartInfo(Sh.Require(shell)) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-c", Worker(), "s3m-worker" }.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return stdout;
    }

    /// <summary>A deadline ten minutes from now, in centiseconds of /proc/uptime (what the script passes).</summary>
    private static string Far => ((long)(double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 100) + 60000).ToString();

    [Theory]
    [MemberData(nameof(Sh.Shells), MemberType = typeof(Sh))]
    public void The_worker_writes_reads_back_and_notices_a_changed_file(string shell)
    {
        using var dir = new ImageRoot();
        var src = dir.Combine("source");
        File.WriteAllBytes(src, Enumerable.Range(0, 3 * 1048576 + 17).Select(i => (byte)(i * 7)).ToArray());
        var mnt = dir.Combine("mnt");
        Directory.CreateDirectory(mnt);

        // Two workers share five files: 0, 2, 4 and 1, 3.
        var w0 = RunWorker(shell, "write", "0", "2", "5", mnt, src, Far, "ns", "", dir.Combine("err"));
        var w1 = RunWorker(shell, "write", "1", "2", "5", mnt, src, Far, "ns", "", dir.Combine("err"));
        Assert.Equal(new[] { "ok 0", "ok 2", "ok 4" }, w0.TrimEnd().Split('\n'));
        Assert.Equal(new[] { "ok 1", "ok 3" }, w1.TrimEnd().Split('\n'));
        Assert.All(Enumerable.Range(0, 5), i => Assert.Equal(File.ReadAllBytes(src), File.ReadAllBytes(Path.Combine(mnt, "f" + i))));

        var bytes = File.ReadAllBytes(Path.Combine(mnt, "f3"));
        bytes[2_000_000] ^= 1;
        File.WriteAllBytes(Path.Combine(mnt, "f3"), bytes);
        File.Delete(Path.Combine(mnt, "f4"));
        var verify = RunWorker(shell, "verify", "0", "1", "5", mnt, src, Far, "ns", "", dir.Combine("err")).TrimEnd().Split('\n');
        Assert.Equal("ok 0", verify[0]);
        Assert.Equal($"err 3 {mnt}/f3 differs from what was written", verify[3]);
        Assert.StartsWith($"err 4 cannot compare {mnt}/f4 with what was written: cmp: ", verify[4]);
        var read = RunWorker(shell, "read", "0", "1", "5", mnt, src, Far, "ns", "", dir.Combine("err")).TrimEnd().Split('\n');
        Assert.Equal(new[] { "ok 0", "ok 1", "ok 2", "ok 3" }, read[..4]);
        Assert.StartsWith($"err 4 reading {mnt}/f4 failed: dd: failed to open", read[4]);

        var first = RunWorker(shell, "first", "0", "1", "2", mnt, src, Far, "cs", "", dir.Combine("err")).TrimEnd().Split('\n');
        Assert.All(first, l => Assert.Matches("^fb [01] [0-9]+$", l));
    }

    [Theory]
    [MemberData(nameof(Sh.Shells), MemberType = typeof(Sh))]
    public void The_worker_reads_listed_files_and_starts_nothing_after_the_deadline(string shell)
    {
        using var dir = new ImageRoot();
        File.WriteAllBytes(dir.Combine("a"), new byte[5000]);
        File.WriteAllBytes(dir.Combine("b"), new byte[7]);
        var list = dir.Combine("list");
        File.WriteAllText(list, "5000\t" + dir.Combine("a") + "\n7\t" + dir.Combine("b") + "\n9\t" + dir.Combine("not there") + "\n");
        var read = RunWorker(shell, "read", "0", "1", "3", "", "/dev/null", Far, "ns", list, dir.Combine("err")).TrimEnd().Split('\n');
        Assert.Equal(new[] { "ok 0", "ok 1" }, read[..2]);
        Assert.StartsWith($"err 2 reading {dir.Combine("not there")} failed", read[2]);
        Assert.Equal(new[] { "ok 1" }, RunWorker(shell, "read", "1", "2", "2", "", "/dev/null", Far, "ns", list, dir.Combine("err")).TrimEnd().Split('\n'));

        Assert.Equal(new[] { "late 0", "late 1" }, RunWorker(shell, "read", "0", "1", "2", "", "/dev/null", "0", "ns", list, dir.Combine("err")).TrimEnd().Split('\n'));
        Assert.Empty(Directory.GetFiles(dir.Path, "f*"));
    }

    [Fact]
    public void The_result_gives_rates_in_MB_per_second_and_the_first_byte_in_ms()
    {
        var block = ResultBlock.Parse(string.Join("\n",
            "S3MOUNT-RESULT 1",
            "host node-1",
            "tput mountpoint-s3-17a82347.service /mnt/s3 write 4 16777216 2 67108864 2000000000 67108864 1000000000 150000000 290000000 1 0 ns s3mount-throughput-abc 250 0 1",
            "tputerr mountpoint-s3-17a82347.service one+error",
            "tput mountpoint-s3-00000001.service /mnt/ro existing 3 0 2 0 0 25165824 500000000 - - - 1 cs ~ 0 1 0",
            "fail mountpoint-s3-00000002.service S3MountThroughputReadOnly /mnt/x+is+read-only",
            "S3MOUNT-END", ""));
        var r = Throughput.Parse(block);
        Assert.Equal("node-1", r.Host);
        var w = r.Items[0];
        Assert.True(w.Wrote);
        Assert.Equal(33.554432, w.WriteMBps!.Value, 6);
        Assert.Equal(67.108864, w.ReadMBps!.Value, 6);
        Assert.Equal(150, w.FirstByteMs);
        Assert.Equal(290, w.FirstByteMaxMs);
        Assert.True(w.Verified);
        Assert.False(w.CachesDropped);
        Assert.Equal(250, w.StartLateMs);
        Assert.Equal("s3mount-throughput-abc", w.TestDirectory);
        Assert.Equal(new[] { "one error" }, w.Errors);
        Assert.Equal(33.554432, Throughput.Score(w)!.Value, 6);

        var ro = r.Items[1];
        Assert.False(ro.Wrote);
        Assert.Null(ro.WriteMBps);
        Assert.Null(ro.FirstByteMs);
        Assert.Null(ro.Verified);
        Assert.True(ro.CachesDropped);
        Assert.True(ro.TimedOut);
        Assert.Null(ro.TestDirectory);
        Assert.Equal(50.331648, Throughput.Score(ro)!.Value, 6);

        var f = Assert.Single(r.Failures);
        Assert.Equal("S3MountThroughputReadOnly", f.Error.ErrorId);
        Assert.Equal(S3MountErrorKind.InvalidOperation, f.Error.Kind);
    }
}
