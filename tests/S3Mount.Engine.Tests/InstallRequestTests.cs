using System.Diagnostics;
using Amazon;
using Amazon.Runtime;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;
using S3Mount.Engine.Model;
using S3Mount.Engine.Scripts;

namespace S3Mount.Engine.Tests;

/// <summary>Request validation, result parsing (both version formats), presigning, shellcheck of the composed scripts, lock retries.</summary>
public class InstallRequestTests
{
    private static S3MountException Refused(InstallRequest r) => Assert.Throws<S3MountException>(() => InstallOperations.Install(r));

    [Theory]
    [InlineData("https://example.com/mount-s3.deb", true)]
    [InlineData("https://s3.amazonaws.com/mountpoint-s3-release", true)]
    [InlineData("http://127.0.0.1:8080/mount-s3.deb", true)]
    [InlineData("http://127.0.0.1/x.deb", true)]
    [InlineData("http://example.com/mount-s3.deb", false)]
    [InlineData("http://localhost:8080/mount-s3.deb", false)]
    [InlineData("http://[::1]:8080/mount-s3.deb", false)]
    [InlineData("http://127.0.0.2/mount-s3.deb", false)]
    [InlineData("http://127.0.0.1.evil.example/mount-s3.deb", false)]
    [InlineData("http://127.0.0.1@evil.example/mount-s3.deb", false)]
    [InlineData("ftp://example.com/mount-s3.deb", false)]
    [InlineData("file:///tmp/mount-s3.deb", false)]
    [InlineData("HTTPS://example.com/x.deb", false)]
    [InlineData("https://example.com/a b.deb", false)]
    [InlineData("https://example.com/a\nb.deb", false)]
    [InlineData("/tmp/mount-s3.deb", false)]
    [InlineData("", false)]
    public void Url_rule_is_https_except_the_ipv4_loopback(string url, bool allowed)
    {
        Assert.Equal(allowed, InstallRequest.IsAllowedUrl(url, out var reason));
        Assert.Equal(allowed, reason.Length == 0);
        var e = allowed ? null : Refused(InstallRequest.FromUrl(url));
        Assert.Equal(allowed ? null : InstallErrorIds.SourceInvalid, e?.ErrorId);
    }

    [Fact]
    public void Base_url_and_keys_url_follow_the_same_rule()
    {
        Assert.Equal(InstallErrorIds.SourceInvalid, Refused(new InstallRequest { BaseUrl = "http://mirror.example/mp" }).ErrorId);
        Assert.Equal(InstallErrorIds.SourceInvalid, Refused(new InstallRequest { KeysUrl = "http://mirror.example/KEYS" }).ErrorId);
        Assert.Equal(InstallErrorIds.SourceInvalid, Refused(new InstallRequest { Source = PackageSourceKind.Url, PackageUrl = "https://x.example/p.deb", SignatureUrl = "http://x.example/p.deb.asc" }).ErrorId);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("latest", null)]
    [InlineData("1.23.0", "1.23.0")]
    [InlineData("v1.22.2", "1.22.2")]
    [InlineData("1.7", "1.7.0")]
    public void Versions_normalise_to_release_numbers(string? text, string? expected) =>
        Assert.Equal(expected, InstallOperations.NormalizeVersion(text));

    [Theory]
    [InlineData("1.21.0+1.amzn2023")]
    [InlineData("1.23.0-beta")]
    [InlineData("1.x")]
    [InlineData("../../etc")]
    [InlineData("1.23.0; rm -rf /")]
    public void Bad_versions_are_refused(string text) =>
        Assert.Equal(ErrorIds.VersionInvalid, Refused(InstallRequest.Official(text)).ErrorId);

    [Fact]
    public void Fingerprints_are_normalised_and_checked()
    {
        var r = InstallRequest.Official();
        r.ExtraTrustedFingerprints.Add("0123 4567 89ab cdef 0123  4567 89AB CDEF 0123 4567");
        var text = InstallOperations.Install(r).Text;
        Assert.Contains("TRUSTED_FPRS='8AEFE705EBE329C0948C75A66F1C3B3AEF4B030B 673FE4061506BB469A0EF857BE397A52B086DA5A 0123456789ABCDEF0123456789ABCDEF01234567'", text, StringComparison.Ordinal);

        var bad = InstallRequest.Official();
        bad.ExtraTrustedFingerprints.Add("EF4B030B");
        Assert.Equal(InstallErrorIds.FingerprintInvalid, Refused(bad).ErrorId);
    }

    [Fact]
    public void Pinned_fingerprints_are_the_reference_ones() =>
        Assert.Equal(new[] { "8AEFE705EBE329C0948C75A66F1C3B3AEF4B030B", "673FE4061506BB469A0EF857BE397A52B086DA5A" }, InstallOperations.MountpointKeyFingerprints);

    [Fact]
    public void File_source_needs_an_absolute_path_and_defaults_the_signature_next_to_it()
    {
        Assert.Equal(InstallErrorIds.SourceInvalid, Refused(InstallRequest.FromFile("mount-s3.deb")).ErrorId);
        Assert.Equal(InstallErrorIds.SourceInvalid, Refused(InstallRequest.FromFile("/tmp/")).ErrorId);
        var text = InstallOperations.Install(InstallRequest.FromFile("/var/tmp/it's.deb")).Text;
        Assert.Contains("PKG_FILE='/var/tmp/it'\\''s.deb'", text, StringComparison.Ordinal);
        Assert.Contains("SIG_FILE='/var/tmp/it'\\''s.deb.asc'", text, StringComparison.Ordinal);
        Assert.Contains("KEYS_URL='https://s3.amazonaws.com/mountpoint-s3-release/public_keys/KEYS'", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Official_keys_come_from_the_base_url()
    {
        var r = InstallRequest.Official("1.23.0");
        r.BaseUrl = "http://127.0.0.1:9/mirror/";
        var text = InstallOperations.Install(r).Text;
        Assert.Contains("KEYS_URL='http://127.0.0.1:9/mirror/public_keys/KEYS'", text, StringComparison.Ordinal);
        Assert.Contains("BASE_URL='http://127.0.0.1:9/mirror'", text, StringComparison.Ordinal);
        Assert.Contains("VERSION='1.23.0'", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Lock_retry_bounds_are_checked()
    {
        Assert.Equal(ErrorIds.OptionInvalid, Refused(new InstallRequest { LockRetries = 0 }).ErrorId);
        Assert.Equal(ErrorIds.OptionInvalid, Refused(new InstallRequest { LockRetryDelaySeconds = -1 }).ErrorId);
    }

    [Fact]
    public void Signature_url_gets_asc_before_the_query() =>
        Assert.Equal("https://b.example/k.deb.asc?X-Amz-Signature=1", InstallOperations.WithAsc("https://b.example/k.deb?X-Amz-Signature=1"));

    [Theory]
    [InlineData("s3://bucket")]
    [InlineData("s3://bucket/")]
    [InlineData("s3://bucket/dir/")]
    [InlineData("https://bucket/key")]
    [InlineData("s3://Bad_Bucket/key")]
    public void Bad_s3_uris_are_refused(string uri) =>
        Assert.Equal(InstallErrorIds.SourceInvalid, Assert.Throws<S3MountException>(() => S3PackagePresigner.ParseS3Uri(uri)).ErrorId);

    [Fact]
    public void S3_source_must_be_presigned_before_it_becomes_a_script()
    {
        var e = Refused(InstallRequest.FromS3("s3://my-bucket/pkgs/mount-s3.deb"));
        Assert.Equal(InstallErrorIds.SourceInvalid, e.ErrorId);
        Assert.Contains("S3PackagePresigner", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Presigned_s3_urls_are_https_short_lived_and_never_shown_in_the_label()
    {
        var presigner = new S3PackagePresigner(new BasicAWSCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), RegionEndpoint.EUWest1);
        var r = presigner.Presign(InstallRequest.FromS3("s3://my-bucket/pkgs/mount-s3.deb"), TimeSpan.FromMinutes(10));
        Assert.StartsWith("https://", r.PackageUrl, StringComparison.Ordinal);
        Assert.Contains("my-bucket", r.PackageUrl, StringComparison.Ordinal);
        Assert.Contains("pkgs/mount-s3.deb?", r.PackageUrl, StringComparison.Ordinal);
        Assert.Contains("X-Amz-Signature=", r.PackageUrl, StringComparison.Ordinal);
        // The SDK counts the lifetime from the moment it signs, so a loaded machine can lose a second.
        var expires = int.Parse(System.Text.RegularExpressions.Regex.Match(r.PackageUrl!, "X-Amz-Expires=([0-9]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expires, 590, 600);
        Assert.Contains("pkgs/mount-s3.deb.asc?", r.SignatureUrl, StringComparison.Ordinal);
        var text = InstallOperations.Install(r).Text;
        Assert.Contains("SOURCE_LABEL='s3://my-bucket/pkgs/mount-s3.deb'", text, StringComparison.Ordinal);
        Assert.Contains("SOURCE='url'", text, StringComparison.Ordinal);

        var local = new S3PackagePresigner(new BasicAWSCredentials("S3RVER", "S3RVER"), RegionEndpoint.USEast1, "http://127.0.0.1:4568");
        var url = local.PresignGet("lab-bucket", "mount-s3.deb", TimeSpan.FromMinutes(5));
        Assert.StartsWith("http://127.0.0.1:4568/lab-bucket/mount-s3.deb?", url, StringComparison.Ordinal);
        Assert.True(InstallRequest.IsAllowedUrl(url, out _));
    }

    private static ResultBlock Block(params ResultRecord[] records) => new(records);

    [Theory]
    [InlineData("mount-s3 1.23.0", "1.23.0", null)]
    [InlineData("mount-s3 1.21.0+1.amzn2023", "1.21.0", "1.amzn2023")]
    public void Installed_version_parses_from_official_and_distro_output(string line, string core, string? build)
    {
        var r = InstallOperations.ParseInstall(Block(
            new ResultRecord("host", "n1"),
            new ResultRecord("os", "amzn", "2023", "fedora"),
            new ResultRecord("arch", "aarch64", "arm64"),
            new ResultRecord("plan", "rpm", "dnf", "fuse fuse-libs", "1"),
            new ResultRecord("previous", "mount-s3 1.20.0", "/usr/bin/mount-s3"),
            new ResultRecord("verified", "8AEFE705EBE329C0948C75A66F1C3B3AEF4B030B"),
            new ResultRecord("installed", line, "/usr/bin/mount-s3", "rpm mount-s3-1.21.0-1.amzn2023"),
            new ResultRecord("source", "distro", "rpm"),
            new ResultRecord("changed", "1")));
        Assert.Equal(core, r.InstalledVersion!.Core);
        Assert.Equal(build, r.InstalledVersion.Build);
        Assert.Equal(line, r.VersionText);
        Assert.Equal(new MountpointVersion(1, 20, 0), r.PreviousVersion);
        Assert.Equal("n1", r.ComputerName);
        Assert.Equal("amzn", r.OsId);
        Assert.Equal("2023", r.OsVersion);
        Assert.Equal("arm64", r.Architecture);
        Assert.Equal("rpm", r.PackageFormat);
        Assert.Equal("distro", r.PackageSource);
        Assert.Equal("/usr/bin/mount-s3", r.BinaryPath);
        Assert.Equal("8AEFE705EBE329C0948C75A66F1C3B3AEF4B030B", r.SignedBy);
        Assert.True(r.Changed);
        Assert.True(r.IsInstalled);
        Assert.Null(r.InstanceId);
    }

    [Fact]
    public void Report_without_mount_s3_says_not_installed()
    {
        var r = InstallOperations.ParseReport(Block(new ResultRecord("host", "n1"), new ResultRecord("os", "debian", "12", ""), new ResultRecord("arch", "x86_64", "x86_64"), new ResultRecord("plan", "deb", "apt", "libfuse2", "0")));
        Assert.False(r.IsInstalled);
        Assert.Null(r.InstalledVersion);
        Assert.True(r.Supported);
        Assert.Contains("not installed", r.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Script_errors_become_exceptions_with_their_kind()
    {
        var e = Assert.Throws<S3MountException>(() => InstallOperations.ParseInstall(Block(new ResultRecord("error", "S3MountSignatureInvalid", "the signature does not verify"))));
        Assert.Equal(InstallErrorIds.SignatureInvalid, e.ErrorId);
        Assert.Equal(S3MountErrorKind.SecurityError, e.Kind);
        Assert.Equal(S3MountErrorKind.ResourceExists, Node.NodeResultParser.KindOf(InstallErrorIds.VersionChangeRefused));
        Assert.Equal(S3MountErrorKind.ResourceBusy, Node.NodeResultParser.KindOf(InstallErrorIds.PackageManagerBusy));
    }

    public static TheoryData<string> ComposedScripts()
    {
        var file = InstallRequest.FromFile("/tmp/p.deb");
        file.KeysPath = "/tmp/KEYS";
        var skip = InstallRequest.FromUrl("https://x.example/p.deb");
        skip.SkipSignatureCheck = true;
        skip.AllowVersionChange = true;
        return new TheoryData<string>
        {
            InstallOperations.Install(InstallRequest.Official()).Text,
            InstallOperations.Install(InstallRequest.Official("1.23.0")).Text,
            InstallOperations.Install(file).Text,
            InstallOperations.Install(skip).Text,
            InstallOperations.Install(new InstallRequest { Source = PackageSourceKind.DistroRepository }).Text,
            InstallOperations.Report().Text,
        };
    }

    [Theory]
    [MemberData(nameof(ComposedScripts))]
    public void Composed_scripts_are_shellcheck_clean(string text)
    {
        var shellcheck = new[] { "/usr/bin/shellcheck", "/usr/local/bin/shellcheck" }.FirstOrDefault(File.Exists);
        if (shellcheck is null)
        {
            Assert.SkipWhen(string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")), "shellcheck is not installed (apt-get install shellcheck)");
            Assert.Fail("shellcheck is not installed, and CI is set");
        }

        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, text);
            var psi = new ProcessStartInfo(shellcheck!, $"-s sh -e SC2317 -f gcc \"{path}\"") { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, output);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Runs install.sh's functions (the text before its main part) with a test body after them.</summary>
    private static async Task<(int Code, string Stdout, string Stderr)> RunFunctionsAsync(string shell, string body, string dir)
    {
        var r = InstallRequest.Official();
        r.LockRetries = 3;
        r.LockRetryDelaySeconds = 0;
        var text = InstallOperations.Install(r).Text;
        var cut = text.IndexOf("# --- main", StringComparison.Ordinal);
        Assert.True(cut > 0);
        var path = Path.Combine(dir, "fn.sh");
        File.WriteAllText(path, text.Substring(0, cut) + body);
        var psi = new ProcessStartInfo(shell, $"\"{path}\"") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["PATH"] = dir + ":" + Environment.GetEnvironmentVariable("PATH");
        using var p = Process.Start(psi)!;
        var stdout = await p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = await p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await p.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (p.ExitCode, stdout, stderr);
    }

    private static string FakeTool(string dir, string name, string body)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    [Theory]
    [InlineData("/bin/dash")]
    [InlineData("/bin/bash")]
    public async Task Package_manager_lock_is_retried_then_given_up_with_a_clear_error(string shell)
    {
        var dir = Directory.CreateTempSubdirectory("s3m-lock-").FullName;
        try
        {
            // Locked twice, then free: succeeds on the third try.
            FakeTool(dir, "fake-apt", $"n=$(cat {dir}/n 2>/dev/null || echo 0); n=$((n + 1)); echo $n > {dir}/n\n[ $n -ge 3 ] && {{ echo installed; exit 0; }}\necho 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)' >&2; exit 100");
            var ok = await RunFunctionsAsync(shell, $"s3m_in_pm {dir}/out fake-apt install x && rec ok \"$(cat {dir}/n)\"\nfinish\n", dir);
            Assert.True(ok.Code == 0, ok.Stderr);
            Assert.Equal("3", ResultBlock.Parse(ok.Stdout).First("ok")![0]);
            Assert.Contains("try 2 of 3", ok.Stderr, StringComparison.Ordinal);

            // Always locked: gives up after LOCK_TRIES with S3MountPackageManagerBusy.
            FakeTool(dir, "locked-dnf", "echo 'Error: Failed to obtain the transaction lock (logged in as: root).' >&2; exit 1");
            var busy = await RunFunctionsAsync(shell, $"s3m_in_pm {dir}/out locked-dnf install x\nfinish\n", dir);
            Assert.Equal(1, busy.Code);
            Assert.Equal(InstallErrorIds.PackageManagerBusy, ResultBlock.Parse(busy.Stdout).First("error")![0]);

            // Any other failure is not retried.
            FakeTool(dir, "broken", $"echo x >> {dir}/calls; echo 'E: Unable to locate package nope' >&2; exit 100");
            var broken = await RunFunctionsAsync(shell, $"s3m_in_pm {dir}/out broken install x; rec status $?\nfinish\n", dir);
            Assert.Equal("100", ResultBlock.Parse(broken.Stdout).First("status")![0]);
            Assert.Single(File.ReadAllLines(Path.Combine(dir, "calls")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("/bin/dash")]
    [InlineData("/bin/bash")]
    public async Task Simulated_removals_are_read_for_apt_dnf_and_zypper(string shell)
    {
        var dir = Directory.CreateTempSubdirectory("s3m-sim-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "apt"), "NOTE: This is only a simulation!\nRemv fuse3 [3.14.0-4]\nRemv ntfs-3g [1:2022]\nInst fuse (2.9.9-6 Debian:12/stable [amd64])\nInst mount-s3 (1.99.0 local-deb [amd64])\n");
            File.WriteAllText(Path.Combine(dir, "dnf"), "Dependencies resolved.\n================\n Package    Arch   Version   Repo   Size\n================\nInstalling:\n mount-s3   x86_64 1.23.0-1  @commandline 5 M\nRemoving dependent packages:\n fuse3      x86_64 3.10.2-9  @System 1 M\n\nTransaction Summary\n");
            File.WriteAllText(Path.Combine(dir, "zypper"), "Loading repository data...\nThe following package is going to be REMOVED:\n  fuse3\n\nThe following NEW package is going to be installed:\n  mount-s3\n");
            File.WriteAllText(Path.Combine(dir, "clean"), "Inst mount-s3 (1.23.0 local-deb [amd64])\nConf mount-s3 (1.23.0 local-deb [amd64])\n");
            var body = $"S3M_PM=apt; rec apt \"$(s3m_in_removals {dir}/apt)\"\nS3M_PM=dnf; rec dnf \"$(s3m_in_removals {dir}/dnf)\"\nS3M_PM=zypper; rec zypper \"$(s3m_in_removals {dir}/zypper)\"\nS3M_PM=apt; rec clean \"$(s3m_in_removals {dir}/clean)\"\nfinish\n";
            var r = await RunFunctionsAsync(shell, body, dir);
            var b = ResultBlock.Parse(r.Stdout);
            Assert.Equal("fuse3 ntfs-3g", b.First("apt")![0]);
            Assert.Equal("fuse3", b.First("dnf")![0]);
            Assert.Equal("fuse3", b.First("zypper")![0]);
            Assert.Equal(string.Empty, b.First("clean")![0]);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
