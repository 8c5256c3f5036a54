using System.Diagnostics;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;

namespace S3Mount.Engine.Tests;

/// <summary>
/// The node-side plan (format, package manager, FUSE packages, release URL) for every os-release fixture and machine,
/// run through the real composed install script with both dash and bash; and the refusals.
/// </summary>
public class InstallPlanTests
{
    internal static readonly string[] Shells = { "/bin/dash", "/bin/bash" };

    internal static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "os-release", name);

    internal static async Task<ResultBlock> RunAsync(NodeScript script, string shell)
    {
        var output = await new LocalScriptRunner(shell).RunAsync(script, TestContext.Current.CancellationToken);
        return output.Block();
    }

    private static NodeScript PlanScript(string fixture, string machine, string? version = null, string? baseUrl = null)
    {
        var r = InstallRequest.Official(version);
        if (baseUrl is not null)
        {
            r.BaseUrl = baseUrl;
        }

        r.OsReleasePath = fixture.StartsWith('/') ? fixture : Fixture(fixture);
        r.Machine = machine;
        r.PlanOnly = true;
        return InstallOperations.Install(r);
    }

    public static TheoryData<string, string, string, string, string, bool> Supported => new()
    {
        // fixture, format, package manager, FUSE packages, os id, distro repo
        { "amzn-2", "rpm", "yum", "fuse fuse-libs", "amzn", false },
        { "amzn-2023", "rpm", "dnf", "fuse fuse-libs", "amzn", true },
        { "rhel-8", "rpm", "dnf", "fuse fuse-libs", "rhel", false },
        { "rhel-9", "rpm", "dnf", "fuse fuse-libs", "rhel", false },
        { "rocky-8", "rpm", "dnf", "fuse fuse-libs", "rocky", false },
        { "rocky-9", "rpm", "dnf", "fuse fuse-libs", "rocky", false },
        { "almalinux-9", "rpm", "dnf", "fuse fuse-libs", "almalinux", false },
        { "centos-stream-9", "rpm", "dnf", "fuse fuse-libs", "centos", false },
        { "centos-like-9", "rpm", "dnf", "fuse fuse-libs", "example", false },
        { "fedora-40", "rpm", "dnf", "fuse fuse-libs", "fedora", false },
        { "ubuntu-20.04", "deb", "apt", "libfuse2", "ubuntu", false },
        { "ubuntu-22.04", "deb", "apt", "libfuse2", "ubuntu", false },
        { "ubuntu-24.04", "deb", "apt", "libfuse2t64", "ubuntu", false },
        { "debian-11", "deb", "apt", "libfuse2", "debian", false },
        { "debian-12", "deb", "apt", "libfuse2", "debian", false },
        { "sles-15", "suse.rpm", "zypper", "fuse libfuse2", "sles", false },
        { "opensuse-leap-15", "suse.rpm", "zypper", "fuse libfuse2", "opensuse-leap", false },
        { "opensuse-tumbleweed", "suse.rpm", "zypper", "fuse libfuse2", "opensuse-tumbleweed", false },
    };

    [Theory]
    [MemberData(nameof(Supported))]
    public async Task Supported_os_gets_its_package_format_and_manager_on_both_architectures(string fixture, string format, string pm, string fuse, string osId, bool distroRepo)
    {
        foreach (var shell in Shells)
        {
            foreach (var (machine, arch) in new[] { ("x86_64", "x86_64"), ("aarch64", "arm64") })
            {
                var plan = InstallOperations.ParsePlan(await RunAsync(PlanScript(fixture, machine), shell));
                var what = $"{fixture} {machine} {shell}";
                Assert.True(format == plan.Format, what + ": " + plan.Format);
                Assert.Equal(pm, plan.PackageManager);
                Assert.Equal(fuse, plan.FusePackages);
                Assert.Equal(osId, plan.OsId);
                Assert.Equal(machine, plan.Machine);
                Assert.Equal(arch, plan.Architecture);
                Assert.Equal(distroRepo, plan.DistroRepository);
                Assert.Equal($"https://s3.amazonaws.com/mountpoint-s3-release/latest/{arch}/mount-s3.{format}", plan.Url);
                Assert.DoesNotContain("aarch64", plan.Url, StringComparison.Ordinal);

                var pinned = InstallOperations.ParsePlan(await RunAsync(PlanScript(fixture, machine, "1.23.0"), shell));
                Assert.Equal($"https://s3.amazonaws.com/mountpoint-s3-release/1.23.0/{arch}/mount-s3-1.23.0-{arch}.{format}", pinned.Url);
            }
        }
    }

    [Fact]
    public async Task Derivatives_accepted_through_ID_LIKE_carry_a_warning()
    {
        var plan = InstallOperations.ParsePlan(await RunAsync(PlanScript("centos-like-9", "x86_64"), "/bin/dash"));
        Assert.Contains(plan.Warnings, w => w.Contains("treated as rhel", StringComparison.Ordinal));
        var rocky = InstallOperations.ParsePlan(await RunAsync(PlanScript("rocky-9", "x86_64"), "/bin/dash"));
        Assert.Empty(rocky.Warnings);
    }

    [Fact]
    public async Task Base_url_override_keeps_the_release_layout()
    {
        var plan = InstallOperations.ParsePlan(await RunAsync(PlanScript("debian-12", "x86_64", "1.22.0", "http://127.0.0.1:8080/mirror/"), "/bin/dash"));
        Assert.Equal("http://127.0.0.1:8080/mirror/1.22.0/x86_64/mount-s3-1.22.0-x86_64.deb", plan.Url);
    }

    [Theory]
    [InlineData("amzn-2018", "amzn")]
    [InlineData("centos-7", "centos")]
    [InlineData("ubuntu-18.04", "ubuntu")]
    [InlineData("debian-10", "debian")]
    [InlineData("debian-sid", "debian")]
    [InlineData("alpine-3", "alpine")]
    [InlineData("arch", "arch")]
    [InlineData("linuxmint-21", "linuxmint")]
    [InlineData("oracle-9", "ol")]
    [InlineData("does-not-exist", "os-release")]
    public async Task Unsupported_os_is_refused_with_a_clear_error(string fixture, string mentioned)
    {
        foreach (var shell in Shells)
        {
            var block = await RunAsync(PlanScript(fixture, "x86_64"), shell);
            var e = Assert.Throws<S3MountException>(() => InstallOperations.ParsePlan(block));
            Assert.Equal(InstallErrorIds.OsUnsupported, e.ErrorId);
            Assert.Equal(S3MountErrorKind.NotImplemented, e.Kind);
            Assert.Contains(mentioned, e.Message, StringComparison.Ordinal);
            Assert.Contains("Ubuntu 20.04 / 22.04 / 24.04", e.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("armv7l")]
    [InlineData("i686")]
    [InlineData("s390x")]
    [InlineData("ppc64le")]
    [InlineData("riscv64")]
    public async Task Unsupported_architecture_is_refused(string machine)
    {
        foreach (var shell in Shells)
        {
            var block = await RunAsync(PlanScript("debian-12", machine), shell);
            var e = Assert.Throws<S3MountException>(() => InstallOperations.ParsePlan(block));
            Assert.Equal(InstallErrorIds.ArchitectureUnsupported, e.ErrorId);
            Assert.Contains(machine, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_real_install_on_an_unsupported_node_is_refused_before_any_download()
    {
        // A loopback listener counts connections: the refusal must come before the script reaches the network.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        foreach (var (fixture, machine, id) in new[] { ("debian-12", "armv7l", InstallErrorIds.ArchitectureUnsupported), ("alpine-3", "x86_64", InstallErrorIds.OsUnsupported) })
        {
            var r = InstallRequest.Official("1.23.0");
            r.BaseUrl = $"http://127.0.0.1:{port}";
            r.OsReleasePath = Fixture(fixture);
            r.Machine = machine;
            var sw = Stopwatch.StartNew();
            var block = await RunAsync(InstallOperations.Install(r), "/bin/dash");
            var e = Assert.Throws<S3MountException>(() => InstallOperations.ParseInstall(block));
            Assert.Equal(id, e.ErrorId);
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10));
        }

        Assert.False(listener.Pending());
    }

    [Fact]
    public async Task Distro_repository_is_refused_where_the_distribution_does_not_ship_mount_s3()
    {
        var r = new InstallRequest { Source = PackageSourceKind.DistroRepository, OsReleasePath = Fixture("ubuntu-22.04"), Machine = "x86_64" };
        var block = await RunAsync(InstallOperations.Install(r), "/bin/dash");
        Assert.Equal(InstallErrorIds.SourceUnsupported, Assert.Throws<S3MountException>(() => InstallOperations.ParseInstall(block)).ErrorId);
        Assert.Equal(S3MountErrorKind.NotImplemented, Node.NodeResultParser.KindOf(InstallErrorIds.SourceUnsupported));
    }

    [Fact]
    public async Task Report_on_an_unsupported_node_reports_instead_of_failing()
    {
        var block = await RunAsync(InstallOperations.Report(Fixture("alpine-3"), "riscv64"), "/bin/dash");
        var r = InstallOperations.ParseReport(block);
        Assert.False(r.Supported);
        Assert.Equal("alpine", r.OsId);
        Assert.Equal("3.20.3", r.OsVersion);
        Assert.Equal("riscv64", r.Architecture);
        Assert.NotNull(r.UnsupportedReason);

        var ok = InstallOperations.ParseReport(await RunAsync(InstallOperations.Report(Fixture("ubuntu-24.04"), "aarch64"), "/bin/bash"));
        Assert.True(ok.Supported);
        Assert.Equal("arm64", ok.Architecture);
        Assert.Equal("aarch64", ok.Machine);
        Assert.Equal("deb", ok.PackageFormat);
        Assert.Equal("apt", ok.PackageManager);
        Assert.False(string.IsNullOrEmpty(ok.ComputerName));
    }
}
