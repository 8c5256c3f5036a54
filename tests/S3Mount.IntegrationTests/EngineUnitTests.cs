using System;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Units;
using S3Mount.Lab;
using static S3Mount.IntegrationTests.LabTestHelpers;

namespace S3Mount.IntegrationTests;

/// <summary>
/// Issue 3's acceptance for units rendered by the engine, on a real systemd node: verify, start, mountinfo, the
/// exact argv, writes under the prefix, read-only, kill -9 self-healing, stop, reboot, non-root allow-other.
/// </summary>
[Collection(EngineUnitLabCollection.Name)]
public sealed class EngineUnitTests(EngineUnitLabFixture fixture, ITestOutputHelper output)
{
    /// <summary>Records the argv systemd executes (NUL-separated, per invocation), then runs the stand-in.</summary>
    private const string Recorder = "/usr/local/bin/s3mount-argv-recorder";

    private const string RecorderScript = """
        #!/bin/sh
        if [ -n "${INVOCATION_ID:-}" ]; then
          mkdir -p /run/s3mount-argv
          printf '%s\0' "$0" "$@" >"/run/s3mount-argv/$INVOCATION_ID"
        fi
        exec /usr/bin/mount-s3 "$@"

        """;

    private LabNode Node => fixture.Lab.Nodes[0];

    /// <summary>Paths and values with spaces, %, $, quotes and unicode, in the path, the prefix, an option and the environment.</summary>
    public static TheoryData<string, string?, string?> HardSpecs() => new()
    {
        { "/mnt/plain", null, null },
        { "/mnt/it's a \"$HOME\" 100% ünïcødé ✓", "p $x %h 'q' \"r\"/", "ua $HOME %n 'x' \"y\" 100%" },
        { "/srv/$(id) `x` ;& %%n $$ \\x", "dir with space/%i/", null },
    };

    [Theory]
    [MemberData(nameof(HardSpecs))]
    public async Task Rendered_unit_verifies_starts_mounts_and_reads_back_the_exact_argv(string path, string? prefix, string? userAgent)
    {
        var node = this.Node;
        await node.WriteFileAsync(Recorder, RecorderScript, "0755", Ct);
        var spec = MountSpec.Create("lab-bucket", path, prefix, new MountOptions { UserAgentPrefix = userAgent }) with
        {
            Environment = userAgent is null ? ValueList<string>.Empty : new[] { "S3MOUNT_TEST=a $b %c \"d\" 'e' ü" },
        };
        var name = spec.UnitName;
        try
        {
            var created = await node.CreateAsync(new CreateRequest(spec) { MountS3Path = Recorder, WaitSeconds = 30 }, Ct);
            Assert.True(created.Changed);
            Assert.Equal(MountHealth.Healthy, created.Service.Health);

            // The unit on disk is byte for byte what the engine rendered, and systemd-analyze verify is silent.
            var onDisk = await node.ReadFileAsync("/etc/systemd/system/" + name, Ct);
            Assert.Equal(UnitRenderer.Render(spec, Recorder), onDisk);
            var verify = await node.RunAsync(["systemd-analyze", "verify", "/etc/systemd/system/" + name], null, null, Ct);
            Assert.True(verify.ExitCode == 0, verify.ToString());
            Assert.True(verify.StdErr.Trim().Length == 0, "systemd-analyze verify warned: " + verify.StdErr);
            Assert.True(verify.StdOut.Trim().Length == 0, "systemd-analyze verify printed: " + verify.StdOut);

            // Active, and mounted with source mountpoint-s3.
            Assert.Equal("active", await node.ShAsync($"systemctl is-active -- {name}", Ct));
            var mount = await FindMountAsync(node, MountPath.ToMountInfo(path));
            Assert.NotNull(mount);
            Assert.Equal("mountpoint-s3", mount.Value.Source);

            var meant = UnitRenderer.ExecStartArgv(spec, Recorder);

            // systemctl show -p ExecStart: systemd 252 prints argv[] joined by spaces, '$' kept as the '$$' it
            // expands at exec time (specifiers are already resolved).
            var shown = await node.ShAsync($"systemctl show -p ExecStart -- {name}", Ct);
            var display = string.Join(" ", meant.Select(a => a.Replace("$", "$$", StringComparison.Ordinal)));
            Assert.Contains("argv[]=" + display + " ;", shown, StringComparison.Ordinal);

            // The same property over D-Bus, as JSON: the argv as a list, so word boundaries are exact too.
            var objectPath = (await node.ShAsync($"busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager GetUnit s {name}", Ct)).Split('"')[1];
            var json = await node.ShAsync($"busctl --json=short get-property org.freedesktop.systemd1 {objectPath} org.freedesktop.systemd1.Service ExecStart", Ct);
            var argv = JsonDocument.Parse(json).RootElement.GetProperty("data")[0][1].EnumerateArray().Select(e => e.GetString()!).ToList();
            Assert.Equal(meant.Select(a => a.Replace("$", "$$", StringComparison.Ordinal)), argv);

            // What the process really received: recorded by the wrapper, NUL-separated, byte for byte.
            var invocation = await node.ShAsync($"systemctl show -p InvocationID --value -- {name}", Ct);
            var recorded = await node.ShAsync($"base64 -w0 /run/s3mount-argv/{invocation}", Ct);
            var received = Encoding.UTF8.GetString(Convert.FromBase64String(recorded)).TrimEnd('\0').Split('\0');
            Assert.Equal(meant, received);
            if (userAgent is not null)
            {
                var env = await node.ShAsync($"tr '\\0' '\\n' </proc/$(systemctl show -p MainPID --value -- {name})/environ | grep '^S3MOUNT_TEST='", Ct);
                Assert.Equal("S3MOUNT_TEST=a $b %c \"d\" 'e' ü", env);
            }

            output.WriteLine($"{name}: {string.Join(" | ", meant)}");
        }
        finally
        {
            await node.RunScriptAsync(NodeOperations.Remove([name], force: true, removeDirectory: true), null, Ct);
        }
    }

    [Fact]
    public async Task A_file_written_through_the_mount_lands_under_the_prefix_and_a_read_only_mount_refuses_writes()
    {
        var node = this.Node;
        var prefix = Unique("wr") + "/";
        var rw = MountSpec.Create("lab-bucket", "/mnt/rw", prefix);
        var ro = MountSpec.Create("lab-bucket-2", "/mnt/ro", prefix, new MountOptions { ReadOnly = true });
        try
        {
            await node.CreateAsync(new CreateRequest(rw) { WaitSeconds = 30 }, Ct);
            await node.CreateAsync(new CreateRequest(ro) { WaitSeconds = 30 }, Ct);
            await node.ShAsync("printf 'hello from the node' >/mnt/rw/hello.txt && mkdir -p /mnt/rw/sub && printf x >/mnt/rw/sub/x.bin && sync", Ct);
            var keys = await fixture.Lab.ListObjectsAsync("lab-bucket", prefix, Ct);
            Assert.Contains(prefix + "hello.txt", keys);
            Assert.Contains(prefix + "sub/x.bin", keys);
            Assert.Equal("hello from the node", Encoding.UTF8.GetString((await fixture.Lab.GetObjectAsync("lab-bucket", prefix + "hello.txt", Ct))!));
            Assert.DoesNotContain(await fixture.Lab.ListObjectsAsync("lab-bucket", null, Ct), k => k == "hello.txt");

            // Read-only: a write fails with EROFS (or EACCES) and nothing reaches the bucket.
            await fixture.Lab.PutObjectAsync("lab-bucket-2", prefix + "seed.txt", Encoding.UTF8.GetBytes("seed"), Ct);
            Assert.Equal("seed", await node.ShAsync("cat /mnt/ro/seed.txt", Ct));
            var write = await node.ExecAsync("printf no >/mnt/ro/new.txt", null, null, Ct);
            Assert.NotEqual(0, write.ExitCode);
            Assert.Matches("Read-only file system|Permission denied", write.StdErr);
            Assert.DoesNotContain(prefix + "new.txt", await fixture.Lab.ListObjectsAsync("lab-bucket-2", prefix, Ct));
        }
        finally
        {
            await node.RunScriptAsync(NodeOperations.Remove([rw.UnitName, ro.UnitName], force: true, removeDirectory: true), null, Ct);
        }
    }

    [Fact]
    public async Task Kill_9_of_the_daemon_heals_within_5_seconds_without_a_person()
    {
        var node = this.Node;
        var spec = MountSpec.Create("lab-bucket", "/mnt/kill9");
        var name = spec.UnitName;
        try
        {
            await node.CreateAsync(new CreateRequest(spec) { WaitSeconds = 30 }, Ct);
            var seconds = new List<double>();
            for (var round = 0; round < 2; round++)
            {
                // kill -9 of the main PID (the mount-s3 daemon; its FUSE server dies with it).
                var healed = await node.SecondsToHealthyAsync(name, "/mnt/kill9", "kill -9 \"$old\"", 15);
                seconds.Add(healed);
                output.WriteLine($"kill -9 recovery round {round + 1}: {healed:0.00} s");
                Console.WriteLine($"[nodeops] kill -9 recovery round {round + 1}: {healed:0.00} s");
            }

            Assert.All(seconds, s => Assert.True(s <= 5.0, $"healed in {s:0.00} s, more than 5 s"));
            var service = await node.GetAsync(name, Ct);
            Assert.Equal(MountHealth.Healthy, service.Health);
            Assert.Equal(2, service.Restarts);
        }
        finally
        {
            await node.RunScriptAsync(NodeOperations.Remove([name], force: true, removeDirectory: true), null, Ct);
        }
    }

    [Fact]
    public async Task Stop_leaves_no_mount_or_process_and_a_reboot_brings_the_enabled_mounts_back()
    {
        var node = this.Node;
        var a = MountSpec.Create("lab-bucket", "/mnt/boot a");
        var b = MountSpec.Create("lab-bucket-2", "/mnt/boot-b", "p/");
        var notEnabled = MountSpec.Create("lab-bucket", "/mnt/boot-c");
        var all = new[] { a.UnitName, b.UnitName, notEnabled.UnitName };
        try
        {
            await node.CreateAsync(new CreateRequest(a) { WaitSeconds = 30 }, Ct);
            await node.CreateAsync(new CreateRequest(b) { WaitSeconds = 30 }, Ct);
            await node.CreateAsync(new CreateRequest(notEnabled) { NoEnable = true, WaitSeconds = 30 }, Ct);

            // Stop: inactive, not in mountinfo, no daemon for that path left.
            var pid = await node.MainPidAsync(a.UnitName, Ct);
            await node.ShAsync($"systemctl stop -- {a.UnitName}", Ct);
            Assert.Equal("inactive", (await node.ExecAsync($"systemctl is-active -- {a.UnitName}", null, null, Ct)).StdOut.Trim());
            Assert.Null(await FindMountAsync(node, MountPath.ToMountInfo(a.Path)));
            Assert.Equal("0", await node.MainPidAsync(a.UnitName, Ct));
            Assert.Equal("gone", await node.ShAsync($"[ -e /proc/{pid} ] && echo alive || echo gone", Ct));
            Assert.Equal(string.Empty, await node.ShAsync("for p in $(pgrep -x s3fs); do tr '\\0' '\\n' </proc/$p/cmdline | grep -Fx -- '/mnt/boot a'; done; true", Ct));
            await node.ShAsync($"systemctl start -- {a.UnitName}", Ct);

            await node.RebootAsync(Ct);

            var list = await node.ListAsync(all, null, Ct);
            var byName = list.Items.ToDictionary(s => s.Name);
            foreach (var s in new[] { a, b })
            {
                var svc = byName[s.UnitName];
                Assert.True(svc.Health == MountHealth.Healthy, $"{s.UnitName} after reboot: {svc.Health} {svc.HealthReason} {svc.ActiveState}");
                Assert.True(svc.Enabled);
                Assert.Equal("mountpoint-s3", (await FindMountAsync(node, MountPath.ToMountInfo(s.Path)))?.Source);
            }

            var off = byName[notEnabled.UnitName];
            Assert.False(off.Enabled);
            Assert.Equal(MountHealth.NotMounted, off.Health);
        }
        finally
        {
            await node.RunScriptAsync(NodeOperations.Remove(all, force: true, removeDirectory: true), null, Ct);
        }
    }

    [Fact]
    public async Task A_non_root_service_with_allow_other_fails_until_fuse_conf_allows_it_then_works()
    {
        var node = this.Node;
        await node.ShAsync("id s3user >/dev/null 2>&1 || useradd -m s3user; sed -i 's/^[[:space:]]*user_allow_other[[:space:]]*$/#user_allow_other/' /etc/fuse.conf; ! grep -q '^user_allow_other' /etc/fuse.conf", Ct);
        var spec = MountSpec.Create("lab-bucket", "/mnt/shared", null, new MountOptions { AllowOther = true }, "s3user");
        var name = spec.UnitName;
        try
        {
            // The failing half: the engine's own unit, written by hand (Create would add user_allow_other first).
            await node.ShAsync("install -d -m 0755 -o s3user -g s3user /mnt/shared", Ct);
            await node.WriteFileAsync("/etc/systemd/system/" + name, UnitRenderer.Render(spec), "0644", Ct);
            await node.ShAsync("systemctl daemon-reload", Ct);
            var start = await node.ExecAsync($"systemctl start -- {name}", null, TimeSpan.FromMinutes(1), Ct);
            Assert.NotEqual(0, start.ExitCode);
            Assert.Null(await FindMountAsync(node, "/mnt/shared"));
            var journal = await node.ShAsync($"journalctl -u {name} --no-pager -o cat", Ct);
            output.WriteLine(journal);
            Assert.Contains("user_allow_other", journal, StringComparison.Ordinal);
            await node.ShAsync($"systemctl stop -- {name}; systemctl reset-failed -- {name} 2>/dev/null; true", Ct);

            // Create with the same spec: the unit is already there byte for byte, but fuse.conf must still allow it.
            var created = await node.CreateAsync(new CreateRequest(spec) { WaitSeconds = 30 }, Ct);
            Assert.True(created.FuseConfChanged);
            Assert.Equal(MountHealth.Healthy, created.Service.Health);
            Assert.Equal("1", await node.ShAsync("grep -c '^user_allow_other$' /etc/fuse.conf", Ct));
            Assert.Equal("s3user", await node.ShAsync($"ps -o user= -p $(systemctl show -p MainPID --value -- {name})", Ct));

            // Another user sees the mount (that is what allow-other is for).
            await node.ShAsync("printf shared >/tmp/shared.txt && runuser -u s3user -- cp /tmp/shared.txt /mnt/shared/shared.txt", Ct);
            Assert.Equal("shared", await node.ShAsync("runuser -u nobody -- cat /mnt/shared/shared.txt", Ct));
        }
        finally
        {
            await node.RunScriptAsync(NodeOperations.Remove([name], force: true, removeDirectory: false), null, Ct);
        }
    }
}
