using System;
using System.Diagnostics;
using System.Net.Http;
using System.Threading.Tasks;
using Amazon;
using Amazon.Runtime;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;
using S3Mount.Engine.Scripts;
using S3Mount.Lab;
using static S3Mount.IntegrationTests.LabTestHelpers;

namespace S3Mount.IntegrationTests;

/// <summary>One node without mount-s3 and the package server, for the install tests only.</summary>
public sealed class InstallLabFixture : LabFixture
{
    /// <inheritdoc />
    protected override int NodeCount => 1;

    /// <inheritdoc />
    protected override LabOptions Options => new() { StandInPreinstalled = false, StartS3 = true, NodeNamePrefix = "inst" };
}

/// <summary>Collection of the install tests (their node's package state is shared, so they run one at a time).</summary>
[CollectionDefinition(Name)]
public sealed class InstallLabCollection : ICollectionFixture<InstallLabFixture>
{
    /// <summary>Collection name.</summary>
    public const string Name = "Install lab";
}

/// <summary>
/// The install and report operations on a real Debian 12 node: the composed scripts run there with /bin/sh (dash)
/// against the lab's loopback package server (release bucket layout, signed by a test key).
/// </summary>
[Collection(InstallLabCollection.Name)]
public sealed class InstallTests(InstallLabFixture fixture, ITestOutputHelper output)
{
    private NodeLab Lab => fixture.Lab;

    private LabNode Node => Lab.Nodes[0];

    private string BaseUrl => Lab.PackageBaseUrl!.ToString().TrimEnd('/');

    private InstallRequest Official(string? version = null)
    {
        var r = InstallRequest.Official(version);
        r.BaseUrl = BaseUrl;
        r.ExtraTrustedFingerprints.Add(Lab.KeyFingerprint!);
        r.LockRetryDelaySeconds = 1;
        return r;
    }

    private async Task<(ResultBlock Block, ExecResult Exec)> RunAsync(NodeScript script)
    {
        var path = "/root/s3mount-" + script.Operation + ".sh";
        await Node.WriteFileAsync(path, script.Text, "0600", Ct);
        var sw = Stopwatch.StartNew();
        var r = await Node.RunAsync(["/bin/sh", path], timeout: TimeSpan.FromMinutes(5), cancellationToken: Ct);
        output.WriteLine($"[{script.Operation}] {sw.Elapsed.TotalSeconds:F1} s, exit {r.ExitCode}");
        output.WriteLine(r.StdErr.Length > 3000 ? "..." + r.StdErr[^3000..] : r.StdErr);
        Assert.False(r.TimedOut, r.ToString());
        Assert.True(ResultBlock.TryParse(r.StdOut, out var block), r.ToString());
        Assert.StartsWith(ResultBlock.BeginMarker + " ", r.StdOut, StringComparison.Ordinal); // stdout carries only the result
        return (block!, r);
    }

    private async Task<MountpointInstallation> InstallAsync(InstallRequest request)
    {
        var (block, _) = await RunAsync(InstallOperations.Install(request));
        return InstallOperations.ParseInstall(block, Node.Name);
    }

    private async Task<S3MountException> RefusedAsync(InstallRequest request)
    {
        var (block, exec) = await RunAsync(InstallOperations.Install(request));
        Assert.Equal(1, exec.ExitCode);
        return Assert.Throws<S3MountException>(() => InstallOperations.ParseInstall(block, Node.Name));
    }

    private async Task<MountpointInstallation> ReportAsync()
    {
        var (block, _) = await RunAsync(InstallOperations.Report());
        return InstallOperations.ParseReport(block, Node.Name);
    }

    private Task PurgeAsync() => Node.ExecAsync("dpkg --purge mount-s3 >/dev/null 2>&1; rm -rf /root/pkgs; true", cancellationToken: Ct);

    private async Task AssertNothingInstalledAsync()
    {
        var r = await Node.ExecAsync("dpkg-query -W -f '${Status}' mount-s3 2>/dev/null; test -e /usr/bin/mount-s3 && echo BINARY", cancellationToken: Ct);
        Assert.DoesNotContain("ok installed", r.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("BINARY", r.StdOut, StringComparison.Ordinal);
        var fuse3 = await Node.ExecAsync("dpkg-query -W -f '${Status}' fuse3", cancellationToken: Ct);
        Assert.Equal("install ok installed", fuse3.StdOut);
    }

    /// <summary>Downloads the lab's packages into /root/pkgs on the node (for the file source and tampering).</summary>
    private Task<ExecResult> FetchIntoNodeAsync(string version) =>
        Node.ExecCheckedAsync(
            $"mkdir -p /root/pkgs && cd /root/pkgs && curl -fsS -o p.deb {BaseUrl}/{version}/x86_64/mount-s3-{version}-x86_64.deb && curl -fsS -o p.deb.asc {BaseUrl}/{version}/x86_64/mount-s3-{version}-x86_64.deb.asc && curl -fsS -o KEYS {BaseUrl}/public_keys/KEYS",
            cancellationToken: Ct);

    [Fact]
    public async Task Report_install_reinstall_and_pinned_upgrade()
    {
        await PurgeAsync();
        try
        {
            var before = await ReportAsync();
            Assert.False(before.IsInstalled);
            Assert.Null(before.InstalledVersion);
            Assert.Equal("debian", before.OsId);
            Assert.Equal("12", before.OsVersion);
            Assert.Equal("x86_64", before.Architecture);
            Assert.Equal("deb", before.PackageFormat);
            Assert.Equal(Node.Name, before.ComputerName);

            // Pinned 1.22.0 on a fresh node: downloaded, verified with the test key, installed with apt.
            var sw = Stopwatch.StartNew();
            var first = await InstallAsync(Official("1.22.0"));
            output.WriteLine($"TIMING fresh install 1.22.0: {sw.Elapsed.TotalSeconds:F1} s");
            Assert.True(first.Changed);
            Assert.Equal("1.22.0", first.InstalledVersion!.Core);
            Assert.Null(first.PreviousVersion);
            Assert.Equal(Lab.KeyFingerprint, first.SignedBy);
            Assert.Equal("/usr/bin/mount-s3", first.BinaryPath);
            Assert.Equal("dpkg mount-s3 1.22.0", first.InstalledPackage);
            Assert.Contains("(1.22.0)", first.PackageSource, StringComparison.Ordinal);

            // The same request again: nothing is downloaded, nothing changes.
            sw.Restart();
            var (againBlock, againExec) = await RunAsync(InstallOperations.Install(Official("1.22.0")));
            output.WriteLine($"TIMING no-op re-install: {sw.Elapsed.TotalSeconds:F1} s");
            var again = InstallOperations.ParseInstall(againBlock);
            Assert.False(again.Changed);
            Assert.Equal("1.22.0", again.InstalledVersion!.Core);
            Assert.DoesNotContain("downloading", againExec.StdErr, StringComparison.Ordinal);

            // Latest with something installed: a no-op with a warning, unless a version change is allowed.
            var latest = await InstallAsync(Official());
            Assert.False(latest.Changed);
            Assert.Contains(latest.Warnings, w => w.Contains("-AllowVersionChange", StringComparison.Ordinal));

            // A different pinned version is refused without AllowVersionChange...
            var refused = await RefusedAsync(Official("1.23.0"));
            Assert.Equal(InstallErrorIds.VersionChangeRefused, refused.ErrorId);
            Assert.Contains("upgrade", refused.Message, StringComparison.Ordinal);
            Assert.Equal("mount-s3 1.22.0", (await Node.ExecCheckedAsync("mount-s3 --version", cancellationToken: Ct)).StdOut.Trim());

            // ...and upgrades with it.
            var upgrade = Official("1.23.0");
            upgrade.AllowVersionChange = true;
            sw.Restart();
            var upgraded = await InstallAsync(upgrade);
            output.WriteLine($"TIMING upgrade 1.22.0 -> 1.23.0: {sw.Elapsed.TotalSeconds:F1} s");
            Assert.True(upgraded.Changed);
            Assert.Equal("1.23.0", upgraded.InstalledVersion!.Core);
            Assert.Equal("1.22.0", upgraded.PreviousVersion!.Core);

            // A downgrade works the same way.
            var downgrade = Official("1.22.0");
            downgrade.AllowVersionChange = true;
            var downgraded = await InstallAsync(downgrade);
            Assert.True(downgraded.Changed);
            Assert.Equal("1.22.0", downgraded.InstalledVersion!.Core);

            // Latest with AllowVersionChange moves to the newest.
            var newest = Official();
            newest.AllowVersionChange = true;
            var moved = await InstallAsync(newest);
            Assert.True(moved.Changed);
            Assert.Equal("1.23.0", moved.InstalledVersion!.Core);

            var after = await ReportAsync();
            Assert.True(after.IsInstalled);
            Assert.Equal("1.23.0", after.InstalledVersion!.Core);
            Assert.Equal("mount-s3 1.23.0", after.VersionText);
            Assert.Equal("dpkg mount-s3 1.23.0", after.PackageSource);
        }
        finally
        {
            await PurgeAsync();
        }
    }

    [Fact]
    public async Task Latest_installs_on_a_fresh_node_and_the_fleet_key_must_be_trusted()
    {
        await PurgeAsync();
        try
        {
            // Without the test fingerprint the lab's signature is valid but not from a pinned Mountpoint key.
            var untrusted = InstallRequest.Official();
            untrusted.BaseUrl = BaseUrl;
            var e = await RefusedAsync(untrusted);
            Assert.Equal(InstallErrorIds.SignatureInvalid, e.ErrorId);
            Assert.Equal(S3MountErrorKind.SecurityError, e.Kind);
            Assert.Contains(Lab.KeyFingerprint!, e.Message, StringComparison.Ordinal);
            Assert.Contains("not a trusted", e.Message, StringComparison.Ordinal);
            await AssertNothingInstalledAsync();

            var sw = Stopwatch.StartNew();
            var r = await InstallAsync(Official());
            output.WriteLine($"TIMING fresh install latest: {sw.Elapsed.TotalSeconds:F1} s");
            Assert.True(r.Changed);
            Assert.Equal("1.23.0", r.InstalledVersion!.Core);
            var links = await Node.ExecCheckedAsync("readlink /usr/bin/mount-s3 /usr/sbin/mount.mount-s3", cancellationToken: Ct);
            Assert.Equal("/opt/aws/mountpoint-s3/bin/mount-s3\n/opt/aws/mountpoint-s3/bin/mount-s3\n", links.StdOut);

            // The throwaway GnuPG home leaves no agent and no temp dir behind.
            var leftovers = await Node.ExecAsync("pgrep -x gpg-agent; ls -d /tmp/s3mount.* 2>/dev/null; true", cancellationToken: Ct);
            Assert.Equal(string.Empty, leftovers.StdOut);

            // Not root: refused before anything happens; the report works for anyone.
            await Node.WriteFileAsync("/tmp/inst.sh", InstallOperations.Install(Official()).Text, "0644", Ct);
            await Node.WriteFileAsync("/tmp/rep.sh", InstallOperations.Report().Text, "0644", Ct);
            var asNobody = await Node.ExecAsync("setpriv --reuid=65534 --regid=65534 --clear-groups /bin/sh /tmp/inst.sh", cancellationToken: Ct);
            var e2 = Assert.Throws<S3MountException>(() => InstallOperations.ParseInstall(ResultBlock.Parse(asNobody.StdOut)));
            Assert.Equal("S3MountNotRoot", e2.ErrorId);
            var reportAsNobody = await Node.ExecAsync("setpriv --reuid=65534 --regid=65534 --clear-groups /bin/sh /tmp/rep.sh", cancellationToken: Ct);
            Assert.Equal("1.23.0", InstallOperations.ParseReport(ResultBlock.Parse(reportAsNobody.StdOut)).InstalledVersion!.Core);
        }
        finally
        {
            await PurgeAsync();
        }
    }

    [Fact]
    public async Task Tampered_package_or_signature_is_refused_and_nothing_is_installed()
    {
        await PurgeAsync();
        try
        {
            await FetchIntoNodeAsync("1.23.0");
            await Node.ExecCheckedAsync("cd /root/pkgs && cp p.deb bad.deb && cp p.deb.asc bad.deb.asc && printf x >> bad.deb", cancellationToken: Ct);
            var tampered = InstallRequest.FromFile("/root/pkgs/bad.deb");
            tampered.KeysPath = "/root/pkgs/KEYS";
            tampered.ExtraTrustedFingerprints.Add(Lab.KeyFingerprint!);
            var e = await RefusedAsync(tampered);
            Assert.Equal(InstallErrorIds.SignatureInvalid, e.ErrorId);
            Assert.Contains("does not verify", e.Message, StringComparison.Ordinal);
            await AssertNothingInstalledAsync();

            // A signature of another package (1.22.0's) for the 1.23.0 package.
            await Node.ExecCheckedAsync($"cd /root/pkgs && cp p.deb swapped.deb && curl -fsS -o swapped.deb.asc {BaseUrl}/1.22.0/x86_64/mount-s3-1.22.0-x86_64.deb.asc", cancellationToken: Ct);
            var swapped = InstallRequest.FromFile("/root/pkgs/swapped.deb");
            swapped.KeysPath = "/root/pkgs/KEYS";
            swapped.ExtraTrustedFingerprints.Add(Lab.KeyFingerprint!);
            Assert.Equal(InstallErrorIds.SignatureInvalid, (await RefusedAsync(swapped)).ErrorId);

            // An altered signature.
            await Node.ExecCheckedAsync("cd /root/pkgs && cp p.deb sig.deb && sed 's/^\\([A-Za-z0-9+/]\\{20\\}\\)[A-Za-z0-9+/]/\\1A/' p.deb.asc > sig.deb.asc && ! cmp -s p.deb.asc sig.deb.asc", cancellationToken: Ct);
            var sig = InstallRequest.FromFile("/root/pkgs/sig.deb");
            sig.KeysPath = "/root/pkgs/KEYS";
            sig.ExtraTrustedFingerprints.Add(Lab.KeyFingerprint!);
            Assert.Equal(InstallErrorIds.SignatureInvalid, (await RefusedAsync(sig)).ErrorId);

            // No signature at all.
            await Node.ExecCheckedAsync("cd /root/pkgs && cp p.deb nosig.deb", cancellationToken: Ct);
            var nosig = InstallRequest.FromFile("/root/pkgs/nosig.deb");
            nosig.KeysPath = "/root/pkgs/KEYS";
            var missing = await RefusedAsync(nosig);
            Assert.Equal(InstallErrorIds.SignatureInvalid, missing.ErrorId);
            Assert.Contains("no signature", missing.Message, StringComparison.Ordinal);

            // A package URL that answers 404: no error page is kept or installed.
            var gone = await RefusedAsync(Official("9.9.9"));
            Assert.Equal(InstallErrorIds.DownloadFailed, gone.ErrorId);
            await AssertNothingInstalledAsync();
        }
        finally
        {
            await PurgeAsync();
        }
    }

    [Fact]
    public async Task Package_whose_install_would_remove_packages_is_refused()
    {
        await PurgeAsync();
        try
        {
            var e = await RefusedAsync(Official(Lab.BadPackageVersion));
            Assert.Equal(InstallErrorIds.InstallWouldRemove, e.ErrorId);
            Assert.Contains("fuse3", e.Message, StringComparison.Ordinal);
            await AssertNothingInstalledAsync();
        }
        finally
        {
            await PurgeAsync();
        }
    }

    [Fact]
    public async Task Package_file_on_the_node_installs_and_skipping_the_check_warns()
    {
        await PurgeAsync();
        try
        {
            await FetchIntoNodeAsync("1.22.0");
            var file = InstallRequest.FromFile("/root/pkgs/p.deb");
            file.KeysPath = "/root/pkgs/KEYS";
            file.ExtraTrustedFingerprints.Add(Lab.KeyFingerprint!);
            file.Version = "1.23.0";
            var wrong = await RefusedAsync(file);
            Assert.Equal(InstallErrorIds.PackageVersionMismatch, wrong.ErrorId);
            await AssertNothingInstalledAsync();

            file.Version = null;
            var sw = Stopwatch.StartNew();
            var r = await InstallAsync(file);
            output.WriteLine($"TIMING install from a file on the node: {sw.Elapsed.TotalSeconds:F1} s");
            Assert.True(r.Changed);
            Assert.Equal("1.22.0", r.InstalledVersion!.Core);
            Assert.Equal("/root/pkgs/p.deb", r.PackageSource);
            Assert.Equal(Lab.KeyFingerprint, r.SignedBy);
            Assert.Empty(r.Warnings);

            await PurgeAsync();
            await FetchIntoNodeAsync("1.23.0");
            await Node.ExecCheckedAsync("rm /root/pkgs/p.deb.asc", cancellationToken: Ct);
            var skip = InstallRequest.FromFile("/root/pkgs/p.deb");
            skip.SkipSignatureCheck = true;
            var s = await InstallAsync(skip);
            Assert.True(s.Changed);
            Assert.Equal("1.23.0", s.InstalledVersion!.Core);
            Assert.Null(s.SignedBy);
            Assert.Contains(s.Warnings, w => w.Contains("NOT checked", StringComparison.Ordinal));

            var missing = await RefusedAsync(new InstallRequest { Source = PackageSourceKind.File, PackagePath = "/root/pkgs/none.deb", AllowVersionChange = true, SkipSignatureCheck = true });
            Assert.Equal(InstallErrorIds.PackageNotFound, missing.ErrorId);

            // Something that is not a mount-s3 .deb is refused even without a signature check.
            await PurgeAsync();
            await FetchIntoNodeAsync("1.23.0");
            var notDeb = InstallRequest.FromFile("/root/pkgs/KEYS");
            notDeb.SkipSignatureCheck = true;
            Assert.Equal(InstallErrorIds.PackageInvalid, (await RefusedAsync(notDeb)).ErrorId);
            await AssertNothingInstalledAsync();
        }
        finally
        {
            await PurgeAsync();
        }
    }

    [Fact]
    public async Task S3_package_is_presigned_on_the_admin_side_and_the_node_needs_no_permission()
    {
        await PurgeAsync();
        try
        {
            // Put the 1.23.0 package and its signature into the lab's S3 server, as an admin would into a bucket.
            using var http = new HttpClient();
            foreach (var name in new[] { "mount-s3-1.23.0-x86_64.deb", "mount-s3-1.23.0-x86_64.deb.asc" })
            {
                var bytes = await http.GetByteArrayAsync(Lab.PackageUrl("1.23.0/x86_64/" + name), Ct);
                await Lab.PutObjectAsync("lab-bucket", "pkgs/" + name, bytes, Ct);
            }

            var presigner = new S3PackagePresigner(new BasicAWSCredentials(NodeLab.S3AccessKey, NodeLab.S3SecretKey), RegionEndpoint.USEast1, Lab.S3Endpoint!.ToString().TrimEnd('/'));
            var request = InstallRequest.FromS3("s3://lab-bucket/pkgs/mount-s3-1.23.0-x86_64.deb");
            request.KeysUrl = BaseUrl + "/public_keys/KEYS";
            request.ExtraTrustedFingerprints.Add(Lab.KeyFingerprint!);
            presigner.Presign(request, TimeSpan.FromMinutes(5));
            Assert.Contains("X-Amz-Signature=", request.PackageUrl, StringComparison.Ordinal);

            var (block, exec) = await RunAsync(InstallOperations.Install(request));
            var r = InstallOperations.ParseInstall(block);
            Assert.True(r.Changed);
            Assert.Equal("1.23.0", r.InstalledVersion!.Core);
            Assert.Equal("s3://lab-bucket/pkgs/mount-s3-1.23.0-x86_64.deb", r.PackageSource);
            Assert.Equal(Lab.KeyFingerprint, r.SignedBy);

            // The presigned query (a bearer credential) never reaches the logs or the result.
            Assert.DoesNotContain("X-Amz-Signature", exec.StdErr, StringComparison.Ordinal);
            Assert.DoesNotContain("X-Amz-Signature", exec.StdOut, StringComparison.Ordinal);
        }
        finally
        {
            await PurgeAsync();
        }
    }

    [Fact]
    public async Task Install_waits_while_another_process_holds_the_dpkg_lock()
    {
        await PurgeAsync();
        try
        {
            // perl (in every Debian) takes the same fcntl lock apt and dpkg take, for 20 seconds, like cloud-init would:
            // long enough that the install reaches apt while it is held even on a loaded machine (downloads and
            // apt-get update come first; with 6 s a slow run found the lock already free).
            const string hold = "use Fcntl; open(my $f, '>>', '/var/lib/dpkg/lock-frontend') or die; " +
                "my $l = pack('s s x4 q q i x4', F_WRLCK, 0, 0, 0, 0); fcntl($f, F_SETLK, $l) or die 'lock failed'; " +
                "open(my $o, '>', '/run/s3m-lock-held'); close($o); sleep 20;";
            await Node.WriteFileAsync("/root/hold-lock.pl", hold, "0600", Ct);
            await Node.ExecCheckedAsync("rm -f /run/s3m-lock-held; setsid perl /root/hold-lock.pl >/dev/null 2>&1 < /dev/null & echo $! > /run/s3m-lock.pid; for i in $(seq 50); do [ -e /run/s3m-lock-held ] && exit 0; sleep 0.1; done; exit 1", cancellationToken: Ct);

            var request = Official("1.23.0");
            request.LockRetries = 40;
            request.LockRetryDelaySeconds = 1;
            var sw = Stopwatch.StartNew();
            var (block, exec) = await RunAsync(InstallOperations.Install(request));
            output.WriteLine($"TIMING install behind a held dpkg lock: {sw.Elapsed.TotalSeconds:F1} s");
            var r = InstallOperations.ParseInstall(block);
            Assert.True(r.Changed);
            Assert.Equal("1.23.0", r.InstalledVersion!.Core);
            Assert.Contains("locked by another process", exec.StdErr, StringComparison.Ordinal);

            // Held longer than the retries last: a clear, bounded failure and nothing installed.
            await PurgeAsync();
            await Node.ExecCheckedAsync("rm -f /run/s3m-lock-held; setsid perl /root/hold-lock.pl >/dev/null 2>&1 < /dev/null & echo $! > /run/s3m-lock.pid; for i in $(seq 50); do [ -e /run/s3m-lock-held ] && exit 0; sleep 0.1; done; exit 1", cancellationToken: Ct);
            var impatient = Official("1.23.0");
            impatient.LockRetries = 2;
            impatient.LockRetryDelaySeconds = 1;
            var e = await RefusedAsync(impatient);
            Assert.Equal(InstallErrorIds.PackageManagerBusy, e.ErrorId);
            await AssertNothingInstalledAsync();
        }
        finally
        {
            await Node.ExecAsync("[ -f /run/s3m-lock.pid ] && kill \"$(cat /run/s3m-lock.pid)\" 2>/dev/null; rm -f /run/s3m-lock.pid; true", cancellationToken: Ct);
            await PurgeAsync();
        }
    }
}
