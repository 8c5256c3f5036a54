using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using static S3Mount.IntegrationTests.LabTestHelpers;

namespace S3Mount.IntegrationTests;

[Collection(NodeLabCollection.Name)]
public sealed class LabBootTests(NodeLabFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task ThreeNodesBootInParallelWithTheirOwnIdentity()
    {
        var lab = fixture.Lab;
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"lab {lab.LabId}: setup {lab.SetupTime.TotalSeconds:F1} s, boot of {lab.Nodes.Count} nodes {lab.BootTime.TotalSeconds:F1} s"));
        Assert.Equal(3, lab.Nodes.Count);

        var results = await Task.WhenAll(lab.Nodes.Select(n =>
            n.ExecAsync("systemctl is-system-running; hostname; cat /etc/machine-id; test -c /dev/fuse && echo fuse", cancellationToken: Ct)));
        var machineIds = new System.Collections.Generic.HashSet<string>();
        for (var i = 0; i < results.Length; i++)
        {
            var lines = results[i].StdOut.Split('\n');
            output.WriteLine($"{lab.Nodes[i].Name}: {string.Join(" | ", lines)}");
            Assert.Contains(lines[0], new[] { "running", "degraded" });
            Assert.Equal(lab.Nodes[i].Name, lines[1]);
            Assert.Matches("^[0-9a-f]{32}$", lines[2]);
            Assert.True(machineIds.Add(lines[2]), "machine ids must differ");
            Assert.Equal("fuse", lines[3]);
            Assert.True(System.IO.File.Exists(System.IO.Path.Combine(lab.Nodes[i].RootPath, "etc/os-release")));
        }
    }

    [Fact]
    public async Task FilesCopyInAndOutAndCommandsKeepStdinAndExitStatus()
    {
        var node = fixture.Lab.Nodes[0];
        var host = System.IO.Path.GetTempFileName();
        try
        {
            var bytes = new byte[] { 0, 1, 2, 255, 10, 13 };
            await System.IO.File.WriteAllBytesAsync(host, bytes, Ct);
            await node.CopyInAsync(host, "/root/copied.bin", "0600", Ct);
            Assert.Equal("600 6\n", (await node.ExecCheckedAsync("stat -c '%a %s' /root/copied.bin", cancellationToken: Ct)).StdOut);
            System.IO.File.Delete(host);
            await node.CopyOutAsync("/root/copied.bin", host, Ct);
            Assert.Equal(bytes, await System.IO.File.ReadAllBytesAsync(host, Ct));

            var echo = await node.ExecAsync("tr a-z A-Z; exit 7", stdin: "hello", cancellationToken: Ct);
            Assert.Equal(7, echo.ExitCode);
            Assert.Equal("HELLO", echo.StdOut);

            var slow = await node.ExecAsync("sleep 30", timeout: System.TimeSpan.FromSeconds(1), cancellationToken: Ct);
            Assert.True(slow.TimedOut);
            Assert.Equal(124, slow.ExitCode);
            Assert.Equal(string.Empty, (await node.ExecAsync("pgrep -x sleep", cancellationToken: Ct)).StdOut);
        }
        finally
        {
            System.IO.File.Delete(host);
        }
    }

    [Fact]
    public async Task NodesReachTheLabServersOnLoopback()
    {
        var lab = fixture.Lab;
        var node = lab.Nodes[0];
        var r = await node.ExecAsync(
            $"curl -fsS -o /dev/null -w '%{{http_code}}' {lab.S3Endpoint}lab-bucket && echo && curl -fsS {lab.PackageUrl("public_keys/KEYS")} | head -1",
            cancellationToken: Ct);
        Assert.True(r.Succeeded, r.ToString());
        Assert.Contains("200", r.StdOut, System.StringComparison.Ordinal);
        Assert.Contains("BEGIN PGP PUBLIC KEY BLOCK", r.StdOut, System.StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadOnlyBindsReachTheNodeAndComeBackAfterAReboot()
    {
        var lab = fixture.Lab;
        var dir = System.IO.Directory.CreateTempSubdirectory("s3mount-bind-");
        try
        {
            await System.IO.File.WriteAllTextAsync(System.IO.Path.Combine(dir.FullName, "probe"), "from the host\n", Ct);
            // A colon in the destination is escaped for nspawn; the destination does not exist in the node yet.
            var up = await lab.RunLabAsync(["up", $"--bind-ro={dir.FullName}:/opt/bound:dir", "bind1"], timeout: System.TimeSpan.FromMinutes(2), cancellationToken: Ct);
            Assert.True(up.Succeeded, up.ToString());
            const string Check = "cat '/opt/bound:dir/probe'; touch '/opt/bound:dir/new' 2>&1 | sed 's/.*: //'; awk '$5 == \"/opt/bound:dir\" { print $6 }' /proc/self/mountinfo";
            foreach (var when in new[] { "after up", "after reboot" })
            {
                if (when == "after reboot")
                {
                    (await lab.RunLabAsync(["reboot", "bind1"], timeout: System.TimeSpan.FromMinutes(2), cancellationToken: Ct)).EnsureSuccess("reboot bind1");
                }

                var r = await lab.RunLabAsync(["exec", "bind1", "sh", "-c", Check], cancellationToken: Ct);
                output.WriteLine($"{when}: {r}");
                var lines = r.StdOut.Split('\n', System.StringSplitOptions.RemoveEmptyEntries);
                Assert.Equal("from the host", lines[0]);
                Assert.Equal("Read-only file system", lines[1]);
                Assert.StartsWith("ro,", lines[2], System.StringComparison.Ordinal);
            }

            Assert.False(System.IO.File.Exists(System.IO.Path.Combine(dir.FullName, "new")));

            // Refused before anything is created.
            foreach (var (spec, message) in new[]
            {
                ("relative/dir", "must be absolute"),
                ("/opt/s3mount-no-such-dir", "does not exist"),
                (dir.FullName + ":/proc/x", "not over /proc/x"),
            })
            {
                var refused = await lab.RunLabAsync(["up", "--bind-ro=" + spec, "bind2"], cancellationToken: Ct);
                Assert.False(refused.Succeeded, refused.ToString());
                Assert.Contains(message, refused.StdErr, System.StringComparison.Ordinal);
            }

            Assert.DoesNotContain("bind2", (await lab.RunLabAsync(["status"], cancellationToken: Ct)).StdOut, System.StringComparison.Ordinal);
        }
        finally
        {
            await lab.RunLabAsync(["down", "bind1"], cancellationToken: Ct);
            dir.Delete(true);
        }
    }
}
