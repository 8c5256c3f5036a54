using System;
using System.Threading.Tasks;
using static S3Mount.IntegrationTests.LabTestHelpers;

namespace S3Mount.IntegrationTests;

/// <summary>The stand-in packages install like the real ones, are signed, and the bad one shows removals.</summary>
[Collection(BareNodeLabCollection.Name)]
public sealed class PackageTests(BareNodeLabFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task LatestDebVerifiesWithTheTestKeyAndInstallsWithApt()
    {
        var lab = fixture.Lab;
        var node = lab.Nodes[0];
        Assert.False(node.StandInPreinstalled);
        Assert.Matches("^[0-9A-F]{40}$", lab.KeyFingerprint);
        try
        {
            Assert.NotEqual(0, (await node.ExecAsync("command -v mount-s3", cancellationToken: Ct)).ExitCode);

            var verify = await node.ExecAsync(
                $"""
                set -e
                d=$(mktemp -d); cd "$d"
                curl -fsSO {lab.PackageUrl("latest/x86_64/mount-s3.deb")}
                curl -fsSO {lab.PackageUrl("latest/x86_64/mount-s3.deb.asc")}
                curl -fsS -o KEYS {lab.PackageUrl("public_keys/KEYS")}
                export GNUPGHOME="$d/gnupg"; mkdir -m 700 "$GNUPGHOME"
                gpg --batch --quiet --import KEYS
                gpg --batch --status-fd 1 --verify mount-s3.deb.asc mount-s3.deb | grep VALIDSIG
                echo corrupt >> mount-s3.deb
                if gpg --batch --verify mount-s3.deb.asc mount-s3.deb 2>/dev/null; then echo TAMPERED-ACCEPTED; fi
                gpgconf --kill all
                """,
                cancellationToken: Ct);
            output.WriteLine(verify.ToString());
            Assert.True(verify.Succeeded, verify.ToString());
            Assert.Contains("VALIDSIG " + lab.KeyFingerprint, verify.StdOut, StringComparison.Ordinal);
            Assert.DoesNotContain("TAMPERED-ACCEPTED", verify.StdOut, StringComparison.Ordinal);

            var install = await node.ExecAsync(
                $"cd /tmp && curl -fsSO {lab.PackageUrl("latest/x86_64/mount-s3.deb")} && DEBIAN_FRONTEND=noninteractive apt-get install -y ./mount-s3.deb",
                timeout: TimeSpan.FromMinutes(2),
                cancellationToken: Ct);
            Assert.True(install.Succeeded, install.ToString());
            Assert.Contains("0 to remove", install.StdOut, StringComparison.Ordinal);

            var check = await node.ExecCheckedAsync(
                "mount-s3 --version; readlink /usr/bin/mount-s3 /usr/sbin/mount.mount-s3; test -x /opt/aws/mountpoint-s3/bin/mount-s3 && echo ok",
                cancellationToken: Ct);
            Assert.Equal("mount-s3 1.23.0\n/opt/aws/mountpoint-s3/bin/mount-s3\n/opt/aws/mountpoint-s3/bin/mount-s3\nok\n", check.StdOut);
        }
        finally
        {
            await node.ExecAsync("dpkg --purge mount-s3 >/dev/null 2>&1; true", cancellationToken: Ct);
        }
    }

    [Fact]
    public async Task PinnedVersionInstallsWithDpkg()
    {
        var lab = fixture.Lab;
        var node = lab.Nodes[0];
        try
        {
            var r = await node.ExecAsync(
                $"cd /tmp && curl -fsSO {lab.PackageUrl("1.22.0/x86_64/mount-s3-1.22.0-x86_64.deb")} && curl -fsSO {lab.PackageUrl("1.22.0/x86_64/mount-s3-1.22.0-x86_64.deb.asc")} && dpkg -i mount-s3-1.22.0-x86_64.deb && mount-s3 --version && dpkg-query -W -f '${{Version}}\n' mount-s3",
                cancellationToken: Ct);
            Assert.True(r.Succeeded, r.ToString());
            Assert.EndsWith("mount-s3 1.22.0\n1.22.0\n", r.StdOut, StringComparison.Ordinal);
        }
        finally
        {
            await node.ExecAsync("dpkg --purge mount-s3 >/dev/null 2>&1; true", cancellationToken: Ct);
        }
    }

    [Fact]
    public async Task BadPackageSimulationShowsRemovals()
    {
        var lab = fixture.Lab;
        var node = lab.Nodes[0];
        var v = lab.BadPackageVersion;
        var r = await node.ExecAsync(
            $"cd /tmp && curl -fsSO {lab.PackageUrl($"{v}/x86_64/mount-s3-{v}-x86_64.deb")} && apt-get -s install ./mount-s3-{v}-x86_64.deb",
            cancellationToken: Ct);
        output.WriteLine(r.ToString());
        Assert.True(r.Succeeded, r.ToString());
        Assert.Contains("Remv fuse3", r.StdOut, StringComparison.Ordinal);
        Assert.Matches(@"[1-9][0-9]* to remove", r.StdOut);

        // Nothing was changed: fuse3 is still installed.
        var fuse3 = await node.ExecAsync("dpkg-query -W -f '${Status}' fuse3", cancellationToken: Ct);
        Assert.Equal("install ok installed", fuse3.StdOut);
    }
}
