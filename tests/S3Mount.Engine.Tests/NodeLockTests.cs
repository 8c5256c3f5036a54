using System.Diagnostics;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Engine.Tests;

/// <summary>
/// The node lock (node_lock in lib.sh): every changing operation holds it, reads do not; offline it is the image root,
/// waits are bounded, and a timeout is S3MountNodeBusy naming the holder. The live lock is proven on lab nodes
/// (tests/S3Mount.IntegrationTests/NodeLockTests.cs).
/// </summary>
public class NodeLockTests
{
    private static readonly MountSpec Spec = MountSpec.Create("my-bucket", "/mnt/s3", user: "ec2-user");

    // The line of lib.sh that takes the lock the prologue names.
    private const string TakeLock = "[ -z \"${S3M_NODE_LOCK:-}\" ] || node_lock \"$S3M_NODE_LOCK\"\n";

    public static IEnumerable<object[]> Operations()
    {
        yield return new object[] { "create", NodeOperations.Create(new CreateRequest(Spec)), true };
        yield return new object[] { "repair", NodeOperations.Repair(new[] { Spec.UnitName }), true };
        yield return new object[] { "control", NodeOperations.Control(ServiceAction.Start, new[] { Spec.UnitName }), true };
        yield return new object[] { "remove", NodeOperations.Remove(new[] { Spec.UnitName }), true };
        yield return new object[] { "install", InstallOperations.Install(InstallRequest.Official("1.23.0")), true };
        yield return new object[] { "list", NodeOperations.List(), false };
        yield return new object[] { "report", InstallOperations.Report(), false };
    }

    [Theory]
    [MemberData(nameof(Operations))]
    public void Every_changing_operation_takes_the_node_lock_before_its_own_code_and_reads_do_not(string op, NodeScript script, bool locks)
    {
        Assert.Equal(locks, script.Prologue.Contains(NodeScript.NodeLockVariable + "='" + op + "'\n", StringComparison.Ordinal));
        Assert.Equal(locks, NodeScript.TakesNodeLock(NodeScript.Source(op)));
        Assert.DoesNotContain(NodeScript.NodeLockVariable, string.Concat(script.Sources.Where(s => s != "lib").Select(NodeScript.Source)), StringComparison.Ordinal);
        if (locks)
        {
            // lib.sh takes it at its end: after every function it needs, before the first line of the operation itself.
            var body = NodeScript.Source(op);
            Assert.True(script.Text.IndexOf(TakeLock, StringComparison.Ordinal) < script.Text.IndexOf(body, StringComparison.Ordinal));
            Assert.True(script.Text.IndexOf("node_trylock() {", StringComparison.Ordinal) < script.Text.IndexOf(TakeLock, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Sync_takes_the_node_lock_to_apply_a_map_and_not_to_plan_one()
    {
        var map = MountMap.FromSpecs(new[] { Spec, MountSpec.Create("other-bucket", "/mnt/other") });
        Assert.False(NodeScript.TakesNodeLock(NodeScript.Source("sync")));
        foreach (var apply in new[] { false, true })
        {
            var script = NodeOperations.Sync(new SyncRequest(map) { Apply = apply });
            var text = script.Text;
            Assert.DoesNotContain(NodeScript.NodeLockVariable + "=", script.Prologue, StringComparison.Ordinal);
            Assert.Contains("[ \"$MODE\" != apply ] || node_lock sync", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Offline_operations_on_one_image_wait_for_each_other_and_a_timeout_is_NodeBusy_naming_the_holder()
    {
        using var root = new ImageRoot();
        var before = root.Snapshot();
        var holderFile = Path.Combine(Path.GetTempPath(), "s3mount-image-lock." + StatDevIno(root.Path));

        // A create that holds the lock for 4 s (a sleep put right after it takes the lock).
        var slow = NodeOperations.Create(new CreateRequest(Spec) { Root = root.Path }).Text
            .Replace(TakeLock, TakeLock + "sleep 4\n", StringComparison.Ordinal);
        using var holder = Start("dash", slow);
        var clock = Stopwatch.StartNew();
        while (!File.Exists(holderFile) || new FileInfo(holderFile).Length == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the slow create never took the lock");
            Thread.Sleep(20);
        }

        Assert.StartsWith("create " + Spec.UnitName + " (pid ", File.ReadAllText(holderFile), StringComparison.Ordinal);

        // A second operation on the same image with a 1 s bound: refused, nothing written, told who holds it.
        var other = MountSpec.Create("my-bucket", "/mnt/other");
        var busy = Run("dash", "S3M_LOCK_SECONDS=1\n" + NodeOperations.Create(new CreateRequest(other) { Root = root.Path }).Text);
        var e = Assert.Throws<S3MountException>(() => NodeResultParser.Create(busy.Block()));
        Assert.Equal(ErrorIds.NodeBusy, e.ErrorId);
        Assert.Equal(S3MountErrorKind.ResourceBusy, e.Kind);
        Assert.Contains("create " + Spec.UnitName + " (pid ", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(root.Combine("mnt/other")));

        // Another image is not blocked by it.
        using (var elsewhere = new ImageRoot())
        {
            var quick = Stopwatch.StartNew();
            Assert.True(NodeResultParser.Create(Sh.Run("dash", NodeOperations.Create(new CreateRequest(other) { Root = elsewhere.Path })).Block()).Changed);
            Assert.True(quick.Elapsed < TimeSpan.FromSeconds(3), $"an unrelated image waited {quick.Elapsed}");
        }

        // With the default bound it waits for the holder, then runs.
        var waited = NodeResultParser.Create(Sh.Run("bash", NodeOperations.Create(new CreateRequest(other) { Root = root.Path })).Block());
        Assert.True(waited.Changed);
        holder.WaitForExit();
        Assert.Equal(0, holder.ExitCode);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(4));

        // Nothing of the lock is left: not in the image, not in TMPDIR.
        Assert.False(File.Exists(holderFile));
        var after = root.Snapshot();
        Assert.Equal(before.Keys.Concat(after.Keys.Where(k => !before.ContainsKey(k))).OrderBy(k => k, StringComparer.Ordinal), after.Keys);
        Assert.DoesNotContain(after.Keys, k => k.Contains("lock", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void The_lock_is_taken_again_without_waiting_by_the_script_that_holds_it()
    {
        using var root = new ImageRoot();
        var text = NodeOperations.Create(new CreateRequest(Spec) { Root = root.Path }).Text
            .Replace(TakeLock, TakeLock + "S3M_LOCK_SECONDS=0 node_lock 'converge'\n", StringComparison.Ordinal);
        var r = NodeResultParser.Create(Run("dash", text).Block());
        Assert.True(r.Changed);
    }

    private static string StatDevIno(string path)
    {
        var psi = new ProcessStartInfo("stat", new[] { "-c", "%d.%i", "--", path }) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return o;
    }

    private static Process Start(string shell, string text)
    {
        var file = Path.GetTempFileName();
        File.WriteAllText(file, text);
        var psi = new ProcessStartInfo(Sh.Require(shell), new[] { file }) { RedirectStandardOutput = true, RedirectStandardError = true };
        var p = Process.Start(psi)!;
        p.Exited += (_, _) => File.Delete(file);
        p.EnableRaisingEvents = true;
        _ = p.StandardOutput.ReadToEndAsync();
        _ = p.StandardError.ReadToEndAsync();
        return p;
    }

    private static ScriptOutput Run(string shell, string text)
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, text);
            var psi = new ProcessStartInfo(Sh.Require(shell), new[] { file }) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return new ScriptOutput(p.ExitCode, stdout.Result, stderr);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
