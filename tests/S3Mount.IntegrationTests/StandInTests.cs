using System;
using System.Diagnostics;
using System.Text;
using System.Threading.Tasks;
using S3Mount.Lab;
using static S3Mount.IntegrationTests.LabTestHelpers;

namespace S3Mount.IntegrationTests;

/// <summary>The mount-s3 stand-in behaves like mount-s3 1.23 on the command line and under systemd.</summary>
[Collection(NodeLabCollection.Name)]
public sealed class StandInTests(NodeLabFixture fixture, ITestOutputHelper output)
{
    [Theory]
    [InlineData("--bogus lab-bucket /mnt", "unexpected argument")]
    [InlineData("--memory-target 1024 lab-bucket /mnt", "unexpected argument")]
    [InlineData("--read-part-size 0 lab-bucket /mnt", "invalid value")]
    [InlineData("--max-threads abc lab-bucket /mnt", "invalid value")]
    [InlineData("--uid 0 lab-bucket /mnt", "invalid value")]
    [InlineData("--dir-mode 0778 lab-bucket /mnt", "invalid value")]
    [InlineData("--file-mode 1000 lab-bucket /mnt", "invalid value")]
    [InlineData("--bucket-type standard lab-bucket /mnt", "invalid value")]
    [InlineData("--upload-checksums md5 lab-bucket /mnt", "invalid value")]
    [InlineData("--metadata-ttl forever lab-bucket /mnt", "invalid value")]
    [InlineData("--prefix data lab-bucket /mnt", "must end with '/'")]
    [InlineData("s3://lab-bucket/data /mnt", "must end with '/'")]
    [InlineData("--prefix a/ s3://lab-bucket/b/ /mnt", "--prefix")]
    [InlineData("--allow-root --allow-other lab-bucket /mnt", "cannot be used with")]
    [InlineData("--part-size 8388608 --read-part-size 8388608 lab-bucket /mnt", "cannot be used with")]
    [InlineData("--no-log --log-directory /var/log lab-bucket /mnt", "cannot be used with")]
    [InlineData("--no-log -d lab-bucket /mnt", "cannot be used with")]
    [InlineData("--sse-kms-key-id arn:aws:kms:x lab-bucket /mnt", "--sse")]
    [InlineData("--sse AES256 --sse-kms-key-id arn:aws:kms:x lab-bucket /mnt", "AES256")]
    [InlineData("--max-cache-size 100 lab-bucket /mnt", "--cache")]
    [InlineData("--otlp-export-interval 5 lab-bucket /mnt", "--otlp-endpoint")]
    [InlineData("--read-only --read-only lab-bucket /mnt", "multiple times")]
    [InlineData("lab-bucket", "required arguments")]
    [InlineData("lab-bucket /mnt -o _netdev,nosuid,nodev,bogus", "unexpected argument")]
    [InlineData("Bad_Bucket /mnt", "invalid bucket name")]
    public async Task BadCommandLinesExitWithStatus2(string arguments, string message)
    {
        var node = fixture.Lab.Nodes[0];
        var r = await node.ExecAsync("mount-s3 " + arguments, cancellationToken: Ct);
        output.WriteLine(r.ToString());
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.StdErr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--prefix a/b/ --region eu-west-1 --endpoint-url http://127.0.0.1:1 --force-path-style --requester-pays --bucket-type general-purpose --storage-class STANDARD_IA --expected-bucket-owner 123456789012")]
    [InlineData("--transfer-acceleration --dual-stack --sse aws:kms --sse-kms-key-id arn:aws:kms:us-east-1:1:key/x --upload-checksums crc64nvme --infer-content-type")]
    [InlineData("--sse aws:kms:dsse --upload-checksums off --no-sign-request --read-only --allow-delete --allow-overwrite --incremental-upload")]
    [InlineData("--sse AES256 --profile p --auto-unmount --allow-root --uid 1000 --gid 1000 --dir-mode 0750 --file-mode 640")]
    [InlineData("--allow-other --maximum-throughput-gbps 5 --max-threads 4 --read-part-size 1048576 --write-part-size 1048576 --ca-bundle /etc/ssl/certs/ca-certificates.crt")]
    [InlineData("--part-size 8388608 --bind eth0 --bind eth1 -f -l /var/log/mount-s3 --log-metrics -d --debug-crt")]
    [InlineData("--foreground --log-directory=/tmp --otlp-endpoint http://127.0.0.1:4318 --otlp-export-interval 60")]
    [InlineData("--no-log --cache /var/cache/m --max-cache-size 1024 --metadata-ttl indefinite --negative-metadata-ttl minimal")]
    [InlineData("--metadata-ttl 0 --negative-metadata-ttl 30 --cache-xz my-cache--use1-az4--x-s3 --user-agent-prefix s3mount/1.0")]
    [InlineData("-o _netdev,nosuid,nodev,nofail,ro,allow-other,uid=1000,gid=1000,prefix=p/,metadata-ttl=60")]
    public async Task EveryOptionOf123IsAccepted(string options)
    {
        var r = await fixture.Lab.Nodes[0].ExecAsync($"MOUNT_S3_STANDIN_CHECK_ONLY=1 mount-s3 {options} lab-bucket /mnt", cancellationToken: Ct);
        Assert.True(r.Succeeded, r.ToString());
    }

    [Fact]
    public async Task DirectoryMustExistAndNotBeAFile()
    {
        var node = fixture.Lab.Nodes[0];
        var missing = await node.ExecAsync("mount-s3 lab-bucket /mnt/does-not-exist", cancellationToken: Ct);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("does not exist", missing.StdErr, StringComparison.Ordinal);
        var file = await node.ExecAsync("mount-s3 lab-bucket /etc/hostname", cancellationToken: Ct);
        Assert.Equal(1, file.ExitCode);
        Assert.Contains("not a directory", file.StdErr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("--version")]
    [InlineData("-V")]
    public async Task HelpAndVersionExit0(string argument)
    {
        var r = await fixture.Lab.Nodes[0].ExecAsync("mount-s3 " + argument, cancellationToken: Ct);
        Assert.Equal(0, r.ExitCode);
        Assert.NotEmpty(r.StdOut);
    }

    [Fact]
    public async Task VersionFollowsTheNodeSettingAndNewerOptionsAreRejected()
    {
        var node = fixture.Lab.Nodes[1];
        try
        {
            Assert.Equal("mount-s3 1.23.0\n", (await node.ExecCheckedAsync("mount-s3 --version", cancellationToken: Ct)).StdOut);

            await node.SetMountS3VersionAsync("1.21.0+1.amzn2023", Ct);
            Assert.Equal("mount-s3 1.21.0+1.amzn2023\n", (await node.ExecCheckedAsync("mount-s3 --version", cancellationToken: Ct)).StdOut);
            var caBundle = await node.ExecAsync("mount-s3 --ca-bundle /etc/ssl/certs/ca-certificates.crt lab-bucket /mnt", cancellationToken: Ct);
            Assert.Equal(2, caBundle.ExitCode);
            Assert.Contains("unexpected argument '--ca-bundle'", caBundle.StdErr, StringComparison.Ordinal);
            var crc64 = await node.ExecAsync("mount-s3 --upload-checksums crc64nvme lab-bucket /mnt", cancellationToken: Ct);
            Assert.Equal(2, crc64.ExitCode);

            await node.SetMountS3VersionAsync("1.17.0", Ct);
            var uri = await node.ExecAsync("mount-s3 s3://lab-bucket/ /mnt", cancellationToken: Ct);
            Assert.Equal(2, uri.ExitCode);

            // The other nodes keep their own version.
            Assert.Equal("mount-s3 1.23.0\n", (await fixture.Lab.Nodes[0].ExecCheckedAsync("mount-s3 --version", cancellationToken: Ct)).StdOut);
        }
        finally
        {
            await node.SetMountS3VersionAsync(null, Ct);
        }

        Assert.Equal("mount-s3 1.23.0\n", (await node.ExecCheckedAsync("mount-s3 --version", cancellationToken: Ct)).StdOut);
    }

    [Fact]
    public async Task ForkingUnitMountsAndWritesLandInS3UnderThePrefix()
    {
        var lab = fixture.Lab;
        var node = lab.Nodes[0];
        var unit = Unique("mnt");
        var dir = "/mnt/" + unit;
        var prefix = unit + "/data/";
        try
        {
            await node.ExecCheckedAsync($"mkdir -p {dir}", cancellationToken: Ct);
            await WriteMountUnitAsync(node, unit, $"--prefix {prefix} lab-bucket {dir}");
            var start = await node.ExecAsync($"systemctl start {unit}", cancellationToken: Ct);
            Assert.True(start.Succeeded, start.ToString());
            Assert.Equal("active\n", (await node.ExecAsync($"systemctl is-active {unit}", cancellationToken: Ct)).StdOut);

            var mount = await FindMountAsync(node, dir);
            Assert.NotNull(mount);
            Assert.Equal("mountpoint-s3", mount.Value.Source);
            Assert.StartsWith("fuse", mount.Value.FsType, StringComparison.Ordinal);

            // The main PID is the mount-s3 daemon (as with the real one); its FUSE server s3fs runs as its child.
            var main = (await node.ExecCheckedAsync($"p=$(systemctl show -p MainPID --value {unit}); ps -o comm= -p $p; ps -o comm= --ppid $p", cancellationToken: Ct)).StdOut.Trim();
            Assert.Equal("mount-s3\ns3fs", main);

            await node.ExecCheckedAsync($"echo 'hello from {node.Name}' > {dir}/hello.txt && mkdir {dir}/sub && echo x > {dir}/sub/y.txt", cancellationToken: Ct);
            var keys = await lab.ListObjectsAsync("lab-bucket", prefix, Ct);
            output.WriteLine(string.Join("\n", keys));
            Assert.Contains(prefix + "hello.txt", keys);
            Assert.Contains(prefix + "sub/y.txt", keys);
            var body = await lab.GetObjectAsync("lab-bucket", prefix + "hello.txt", Ct);
            Assert.Equal($"hello from {node.Name}\n", Encoding.UTF8.GetString(body!));

            // Objects put straight into S3 show up through the mount.
            await lab.PutObjectAsync("lab-bucket", prefix + "from-s3.txt", Encoding.UTF8.GetBytes("abc"), Ct);
            Assert.Equal("abc", (await node.ExecCheckedAsync($"cat {dir}/from-s3.txt", cancellationToken: Ct)).StdOut);

            // A second mount on the same path is refused.
            var again = await node.ExecAsync($"mount-s3 lab-bucket {dir}", cancellationToken: Ct);
            Assert.Equal(1, again.ExitCode);
            Assert.Contains("already mounted", again.StdErr, StringComparison.Ordinal);

            // Stop: no mount, no process.
            await node.ExecCheckedAsync($"systemctl stop {unit}", cancellationToken: Ct);
            Assert.Null(await FindMountAsync(node, dir));
            var procs = await node.ExecAsync("pgrep -a s3fs", cancellationToken: Ct);
            Assert.DoesNotContain(dir, procs.StdOut, StringComparison.Ordinal);
        }
        finally
        {
            await CleanupUnitAsync(node, unit, dir);
        }
    }

    [Fact]
    public async Task ReadOnlyMountRefusesWrites()
    {
        var node = fixture.Lab.Nodes[0];
        var unit = Unique("ro");
        var dir = "/mnt/" + unit;
        try
        {
            await fixture.Lab.PutObjectAsync("lab-bucket", unit + "/existing.txt", Encoding.UTF8.GetBytes("old"), Ct);
            await node.ExecCheckedAsync($"mkdir -p {dir}", cancellationToken: Ct);
            await WriteMountUnitAsync(node, unit, $"--read-only s3://lab-bucket/{unit}/ {dir}");
            await node.ExecCheckedAsync($"systemctl start {unit}", cancellationToken: Ct);
            Assert.Equal("old", (await node.ExecCheckedAsync($"cat {dir}/existing.txt", cancellationToken: Ct)).StdOut);
            var write = await node.ExecAsync($"echo new > {dir}/new.txt", cancellationToken: Ct);
            Assert.NotEqual(0, write.ExitCode);
            Assert.Contains("Read-only file system", write.StdErr, StringComparison.Ordinal);
            Assert.Null(await fixture.Lab.GetObjectAsync("lab-bucket", unit + "/new.txt", Ct));
        }
        finally
        {
            await CleanupUnitAsync(node, unit, dir);
        }
    }

    [Fact]
    public async Task Kill9OfTheMainPidLeavesADeadFuseMount()
    {
        var node = fixture.Lab.Nodes[0];
        var unit = Unique("kill");
        var dir = "/mnt/" + unit;
        try
        {
            await node.ExecCheckedAsync($"mkdir -p {dir}", cancellationToken: Ct);
            await WriteMountUnitAsync(node, unit, $"lab-bucket {dir}");
            await node.ExecCheckedAsync($"systemctl start {unit}", cancellationToken: Ct);
            // (Past the kernel's attribute cache, about a second, which still answers a stat of the mount root.)
            await node.ExecCheckedAsync($"kill -9 $(systemctl show -p MainPID --value {unit}); sleep 1.5", cancellationToken: Ct);

            var stat = await node.ExecAsync($"stat {dir}", cancellationToken: Ct);
            Assert.NotEqual(0, stat.ExitCode);
            Assert.Contains("Transport endpoint is not connected", stat.StdErr, StringComparison.Ordinal);
            Assert.NotNull(await FindMountAsync(node, dir));

            // Like mount-s3: the dead mount blocks a new one until it is unmounted.
            var restart = await node.ExecAsync($"systemctl reset-failed {unit}; systemctl start {unit}", cancellationToken: Ct);
            Assert.NotEqual(0, restart.ExitCode);
            await node.ExecCheckedAsync($"umount -l {dir} && systemctl reset-failed {unit} && systemctl start {unit} && systemctl is-active {unit}", cancellationToken: Ct);
        }
        finally
        {
            await CleanupUnitAsync(node, unit, dir);
        }
    }

    /// <summary>
    /// mount-s3's start contract (mountpoint-s3.md, "How it runs"): the parent returns only once the mount is live, and
    /// when it is not (S3 refused or not answering) it exits non-zero within 30 s, says why on stderr and in the journal
    /// as SYSLOG_IDENTIFIER=mount-s3, and leaves nothing mounted or running; under systemd the start fails.
    /// </summary>
    [Fact]
    public async Task WithoutS3AStartFailsNonZeroWithin30SecondsAndLogsAsMountS3()
    {
        var lab = fixture.Lab;
        var node = lab.Nodes[0];
        var unit = Unique("nos3");
        var dir = "/mnt/" + unit;
        try
        {
            await node.ExecCheckedAsync($"mkdir -p {dir}", cancellationToken: Ct);
            await WriteMountUnitAsync(node, unit, $"lab-bucket {dir}");
            foreach (var (state, min, max, message) in new[] { (S3State.Down, 3.0, 20.0, "Failed to access bucket lab-bucket"), (S3State.Blackhole, 28.0, 40.0, "Timeout after 30 seconds") })
            {
                await lab.SetS3StateAsync(state, Ct);
                var since = await node.ShAsync("date +%s", Ct);
                var clock = Stopwatch.StartNew();
                var r = await node.ExecAsync($"mount-s3 lab-bucket {dir}", null, TimeSpan.FromSeconds(90), Ct);
                output.WriteLine($"S3 {state}: exit {r.ExitCode} after {clock.Elapsed.TotalSeconds:0.0} s\n{r.StdErr}");
                Assert.Equal(1, r.ExitCode);
                Assert.Contains(message, r.StdErr, StringComparison.Ordinal);
                Assert.InRange(clock.Elapsed.TotalSeconds, min, max);
                Assert.Null(await FindMountAsync(node, dir));
                Assert.Equal(string.Empty, await node.ShAsync($"sleep 1; pgrep -af '(mount-s3|s3fs) .*{dir}( |$)'; true", Ct));
                var journal = await node.ShAsync($"journalctl SYSLOG_IDENTIFIER=mount-s3 --since @{since} --no-pager -o cat", Ct);
                Assert.Contains(message, journal, StringComparison.Ordinal);
            }

            // Under systemd: the start fails (so Restart=on-failure has something to act on), and the unit's journal
            // has mount-s3's own lines.
            await lab.SetS3StateAsync(S3State.Down, Ct);
            var start = await node.ExecAsync($"systemctl start {unit}", null, TimeSpan.FromSeconds(90), Ct);
            Assert.NotEqual(0, start.ExitCode);
            Assert.Equal("failed exit-code", await node.ShAsync($"echo $(systemctl show -p ActiveState --value {unit}) $(systemctl show -p Result --value {unit})", Ct));
            var unitJournal = await node.ShAsync($"journalctl -u {unit} SYSLOG_IDENTIFIER=mount-s3 --no-pager -o cat", Ct);
            output.WriteLine(unitJournal);
            Assert.Contains("Failed to access bucket lab-bucket", unitJournal, StringComparison.Ordinal);
            Assert.Null(await FindMountAsync(node, dir));
        }
        finally
        {
            await lab.SetS3StateAsync(S3State.Up, Ct);
            await CleanupUnitAsync(node, unit, dir);
        }
    }

    /// <summary>
    /// The daemon's exit status: 0 only when it was told to stop (SIGTERM) or its file system was unmounted; non-zero
    /// when the file system dies any other way (its FUSE server crashed or was killed, as by the OOM killer).
    /// </summary>
    [Fact]
    public async Task TheDaemonExits0OnlyForAStopOrAnUnmountAndNonZeroWhenItsFileSystemDies()
    {
        var node = fixture.Lab.Nodes[0];
        var unit = Unique("exit");
        var dir = "/mnt/" + unit;
        var state = $"echo $(systemctl show -p ActiveState --value {unit}) $(systemctl show -p Result --value {unit}) $(systemctl show -p ExecMainStatus --value {unit})";
        async Task<string> EndAsync(string action)
        {
            await node.ExecCheckedAsync($"umount -l {dir} 2>/dev/null; systemctl reset-failed {unit} 2>/dev/null; systemctl start {unit}", cancellationToken: Ct);
            await node.ExecCheckedAsync(action + $"; for i in $(seq 100); do systemctl -q is-active {unit} || break; sleep 0.1; done", cancellationToken: Ct);
            var s = await node.ShAsync(state, Ct);
            output.WriteLine($"{action}: {s}");
            return s;
        }

        try
        {
            await node.ExecCheckedAsync($"mkdir -p {dir}", cancellationToken: Ct);
            await WriteMountUnitAsync(node, unit, $"lab-bucket {dir}");
            Assert.Equal("inactive success 0", await EndAsync($"systemctl stop {unit}"));
            Assert.Equal("inactive success 0", await EndAsync($"kill -TERM $(systemctl show -p MainPID --value {unit})"));
            Assert.Equal("inactive success 0", await EndAsync($"umount {dir}"));
            Assert.Equal("failed exit-code 1", await EndAsync($"kill -9 $(pgrep -P $(systemctl show -p MainPID --value {unit}) -x s3fs)"));
            Assert.Contains("died", await node.ShAsync($"journalctl -u {unit} SYSLOG_IDENTIFIER=mount-s3 -n 1 --no-pager -o cat", Ct), StringComparison.Ordinal);
            Assert.Equal("failed exit-code 1", await EndAsync($"kill -SEGV $(pgrep -P $(systemctl show -p MainPID --value {unit}) -x s3fs)"));
        }
        finally
        {
            await CleanupUnitAsync(node, unit, dir);
        }
    }

    [Fact]
    public async Task RebootBringsAnEnabledMountBack()
    {
        var lab = fixture.Lab;
        var node = lab.Nodes[2];
        var unit = Unique("boot");
        var dir = "/mnt/" + unit;
        try
        {
            await node.ExecCheckedAsync($"mkdir -p {dir}", cancellationToken: Ct);
            await WriteMountUnitAsync(node, unit, $"--prefix {unit}/ lab-bucket {dir}");
            await node.ExecCheckedAsync($"systemctl enable --now {unit} && echo before > {dir}/marker.txt", cancellationToken: Ct);

            var sw = System.Diagnostics.Stopwatch.StartNew();
            await node.RebootAsync(Ct);
            output.WriteLine($"reboot took {sw.Elapsed.TotalSeconds:F1} s");

            var state = await node.ExecAsync($"systemctl is-active {unit}; cat {dir}/marker.txt", cancellationToken: Ct);
            Assert.Equal("active\nbefore\n", state.StdOut);
            var mount = await FindMountAsync(node, dir);
            Assert.Equal("mountpoint-s3", mount?.Source);
        }
        finally
        {
            await CleanupUnitAsync(node, unit, dir);
        }
    }

    [Fact]
    public async Task NonRootAllowOtherFailsUntilFuseConfHasUserAllowOther()
    {
        var node = fixture.Lab.Nodes[1];
        var unit = Unique("user");
        var dir = "/mnt/" + unit;
        try
        {
            await node.ExecCheckedAsync(
                $"id labuser >/dev/null 2>&1 || useradd -m labuser; mkdir -p {dir}; chown labuser: {dir}; sed -i '/^user_allow_other/d' /etc/fuse.conf",
                cancellationToken: Ct);
            await WriteMountUnitAsync(node, unit, $"--allow-other --prefix {unit}/ lab-bucket {dir}", user: "labuser");

            var denied = await node.ExecAsync($"systemctl start {unit}", cancellationToken: Ct);
            Assert.NotEqual(0, denied.ExitCode);
            var journal = await node.ExecAsync($"journalctl -u {unit} -o cat --no-pager", cancellationToken: Ct);
            output.WriteLine(journal.StdOut);
            Assert.Contains("user_allow_other", journal.StdOut, StringComparison.Ordinal);

            await node.ExecCheckedAsync($"echo user_allow_other >> /etc/fuse.conf && systemctl reset-failed {unit} && systemctl start {unit}", cancellationToken: Ct);
            var mount = await FindMountAsync(node, dir);
            Assert.Equal("mountpoint-s3", mount?.Source);

            // allow-other: root (another user) can read and write through the user's mount.
            await node.ExecCheckedAsync($"echo from-root > {dir}/r.txt && runuser -u labuser -- cat {dir}/r.txt", cancellationToken: Ct);
            var owner = await node.ExecCheckedAsync($"stat -c %U {dir}/r.txt", cancellationToken: Ct);
            Assert.Equal("labuser\n", owner.StdOut);
        }
        finally
        {
            await CleanupUnitAsync(node, unit, dir);
            await node.ExecAsync("sed -i '/^user_allow_other/d' /etc/fuse.conf", cancellationToken: Ct);
        }
    }

    [Fact]
    public async Task FstabFormAndModesAreHonoured()
    {
        var node = fixture.Lab.Nodes[0];
        var name = Unique("fstab");
        var dir = "/mnt/" + name;
        try
        {
            var r = await node.ExecAsync(
                $"mkdir -p {dir} && mount-s3 s3://lab-bucket/{name}/ {dir} -o _netdev,nosuid,nodev,rw,allow-other,uid=1234,gid=1234,dir-mode=0750,file-mode=0640 && echo x > {dir}/f && stat -c '%u %g %a' {dir} {dir}/f",
                cancellationToken: Ct);
            Assert.True(r.Succeeded, r.ToString());
            // s3fs has one umask below the mount point: files get dir-mode|file-mode (0750|0640).
            Assert.Equal($"s3://lab-bucket/{name}/ is mounted at {dir}\n1234 1234 750\n1234 1234 750\n", r.StdOut);
        }
        finally
        {
            await node.ExecAsync($"umount {dir} || umount -l {dir}", cancellationToken: Ct);
        }
    }
}
