using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Bootstrap;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Units;
using S3Mount.FakeSsm;
using S3Mount.Lab;
using static S3Mount.IntegrationTests.LabTestHelpers;

namespace S3Mount.IntegrationTests;

/// <summary>The bootstrap tests' lab: S3 and the signed package server; nodes are added by each test (fresh, no mount-s3).</summary>
public sealed class BootstrapLabFixture : LabFixture
{
    /// <inheritdoc />
    protected override int NodeCount => 1;

    /// <inheritdoc />
    protected override LabOptions Options => new() { StandInPreinstalled = false, NodeNamePrefix = "boot" };
}

/// <summary>Collection of the bootstrap tests (one at a time: they reboot their nodes).</summary>
[CollectionDefinition(Name)]
public sealed class BootstrapLabCollection : ICollectionFixture<BootstrapLabFixture>
{
    /// <summary>Collection name.</summary>
    public const string Name = "Bootstrap lab";
}

/// <summary>
/// Exported bootstraps consumed the way autoscaled nodes consume them: a fresh node with no pwsh, no .NET and no
/// mount-s3 runs the Shell script at boot (a oneshot unit installed before boot, as an image's first-boot hook or a
/// user data runner would); cloud-init runs the CloudConfig and Mime documents from a NoCloud seed, and the loader
/// CloudConfig of four mounts with an install (it downloads the script, and refuses one changed since); and a node's
/// Get-S3MountService output, exported by the real cmdlet in pwsh, gives another node the same mounts. The install
/// step is the real one, against the lab's signed package server.
/// </summary>
[Collection(BootstrapLabCollection.Name)]
public sealed class BootstrapLabTests(BootstrapLabFixture fixture, ITestOutputHelper output)
{
    private const string FirstBootUnit = """
        [Unit]
        Description=First boot: the S3Mount bootstrap, as an image's first-boot hook runs user data
        Wants=network-online.target
        After=network-online.target remote-fs.target
        ConditionPathExists=/var/lib/firstboot/bootstrap.sh

        [Service]
        Type=oneshot
        ExecStart=/bin/sh /var/lib/firstboot/bootstrap.sh
        StandardOutput=truncate:/var/log/firstboot.out
        StandardError=journal
        TimeoutStartSec=600

        [Install]
        WantedBy=multi-user.target

        """;

    private NodeLab Lab => fixture.Lab;

    private InstallRequest LabInstall()
    {
        var r = InstallRequest.Official("1.23.0");
        r.BaseUrl = Lab.PackageBaseUrl!.ToString().TrimEnd('/');
        r.ExtraTrustedFingerprints.Add(Lab.KeyFingerprint!);
        r.LockRetryDelaySeconds = 1;
        return r;
    }

    private BootstrapScript Bootstrap(bool install, params MountSpec[] mounts)
    {
        var r = new BootstrapRequest { Install = install ? LabInstall() : null };
        foreach (var m in mounts)
        {
            r.Mounts.Add(new CreateRequest(m));
        }

        return BootstrapScript.Compose(r);
    }

    [Fact]
    public async Task Shell_at_first_boot_of_a_node_without_pwsh_or_dotnet_mounts_everything_survives_a_reboot_and_runs_again_as_a_no_op()
    {
        var node = Lab.Nodes[0];
        await node.ShAsync("useradd -m ec2-user", Ct);
        var bare = await node.ExecAsync("command -v pwsh; command -v dotnet; command -v mount-s3; ls /usr/share/dotnet /opt/microsoft 2>/dev/null; true", cancellationToken: Ct);
        Assert.Equal(string.Empty, bare.StdOut.Trim());

        var mounts = new[]
        {
            MountSpec.Create("lab-bucket", "/mnt/boot ref", options: new MountOptions { ReadOnly = true, AllowOther = true, CacheDirectory = "/var/cache/s3mount/boot", MetadataTtl = MetadataTtl.Parse("300") }),
            MountSpec.Create("s3://lab-bucket-2/runs/", "/mnt/runs", options: new MountOptions { AllowDelete = true, AllowOther = true, DirMode = Convert.ToInt32("750", 8) }, user: "ec2-user") with { Environment = new[] { "MOUNT_NOTE=first boot" } },
        };
        var script = Bootstrap(true, mounts);
        var artifact = BootstrapArtifact.Build(script, BootstrapFormat.Shell);
        output.WriteLine($"Shell bootstrap: {artifact.Bytes.Length:N0} bytes, {script.Steps.Count} steps");

        // Installed before the node boots (an image's first-boot hook): the next boot is the node's first.
        await node.WriteFileAsync("/var/lib/firstboot/bootstrap.sh", artifact.Text!, "0700", Ct);
        await node.WriteFileAsync("/etc/systemd/system/firstboot.service", FirstBootUnit, "0644", Ct);
        await node.ShAsync("systemctl enable firstboot.service 2>&1", Ct);
        var sw = Stopwatch.StartNew();
        await node.RebootAsync(Ct);
        output.WriteLine($"TIMING first boot with install and {mounts.Length} mounts: {sw.Elapsed.TotalSeconds:F1} s");

        var first = await FirstBootAsync(node);
        Assert.True(first.Exit == "0", first.Journal);
        Assert.Equal(new[] { "1", "1", "1" }, first.Changed);
        Assert.Contains("s3mount-bootstrap: all 3 steps succeeded (3 changed the node)", first.Journal, StringComparison.Ordinal);
        Assert.Equal("mount-s3 1.23.0", (await node.ShAsync("mount-s3 --version", Ct)).Trim());
        await AssertMountsAsync(node, mounts);
        Assert.Equal("user_allow_other", await node.ShAsync("grep -x user_allow_other /etc/fuse.conf", Ct));

        // The mounts come back after a reboot by themselves; the first-boot unit runs again and changes nothing.
        sw.Restart();
        await node.RebootAsync(Ct);
        output.WriteLine($"TIMING reboot with the bootstrap running again: {sw.Elapsed.TotalSeconds:F1} s");
        var second = await FirstBootAsync(node);
        Assert.True(second.Exit == "0", second.Journal);
        Assert.Equal(new[] { "0", "0", "0" }, second.Changed);
        await AssertMountsAsync(node, mounts);

        // And by hand: nothing on the node changes, byte for byte.
        var dirs = new[] { "/var/cache/s3mount", "/opt/aws", "/home/ec2-user" };
        var before = await node.SnapshotAsync(Ct, dirs);
        var again = await node.RunAsync(["/bin/sh", "/var/lib/firstboot/bootstrap.sh"], timeout: TimeSpan.FromMinutes(5), cancellationToken: Ct);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(new[] { "0", "0", "0" }, Changed(again.StdOut));
        Assert.Equal(before, await node.SnapshotAsync(Ct, dirs));
        Assert.Contains("s3mount-bootstrap: all 3 steps succeeded (0 changed the node)", again.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cloud_init_runs_the_CloudConfig_and_Mime_documents_from_a_NoCloud_seed()
    {
        // Mountpoint is in the image: since the back-off and health check of issue 12, an install step no longer fits
        // beside a mount in self-contained user data (the Shell test above boots with one, and so does the loader test
        // below, whose user data downloads the script).
        var node = (await Lab.AddNodesAsync(["bci1"], standInPreinstalled: true, Ct))[0];
        try
        {
            await InstallCloudInitAsync(node);

            // 1. #cloud-config, gzip-compressed as user data goes to EC2.
            var one = MountSpec.Create("lab-bucket", "/mnt/cc", options: new MountOptions { ReadOnly = true, AllowOther = true });
            var cc = BootstrapArtifact.Build(Bootstrap(false, one), BootstrapFormat.CloudConfig, compress: true);
            Assert.True(cc.Bytes.Length <= BootstrapArtifact.UserDataLimit);
            await BootFromSeedAsync(node, "iid-cloudconfig", cc.Bytes);
            var schema = await node.ExecAsync("gunzip -c /var/lib/cloud/seed/nocloud/user-data >/root/cc.yaml && cloud-init schema --config-file /root/cc.yaml", cancellationToken: Ct);
            Assert.True(schema.ExitCode == 0, schema.ToString());
            Assert.Contains("Valid cloud-config", schema.StdOut + schema.StdErr, StringComparison.Ordinal);
            await AssertCloudInitDoneAsync(node, "all 1 steps succeeded (1 changed the node)");
            Assert.Equal(cc.Script.Text, await node.ReadFileAsync(BootstrapScript.NodePath, Ct));
            Assert.Equal("700 root:root", await node.ShAsync("stat -c '%a %U:%G' " + BootstrapScript.NodePath, Ct));
            await AssertMountsAsync(node, [one]);

            // 2. MIME merged with what an EKS AL2023 node's user data carries (a NodeConfig part and the user's own script),
            // gzip-compressed as a whole (nodeadm and cloud-init both decompress it; uncompressed it no longer fits).
            var existing = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BOUNDARY\"\n\n" +
                "--BOUNDARY\nContent-Type: application/node.eks.aws\n\n---\napiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: lab\n\n" +
                "--BOUNDARY\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\n\n#!/bin/sh\necho \"user part ran\" >/root/user-part\n\n--BOUNDARY--\n";
            var two = MountSpec.Create("lab-bucket-2", "/mnt/mime", options: new MountOptions { AllowDelete = true });
            var three = MountSpec.Create("s3://lab-bucket/gz/", "/mnt/mime-gz", options: new MountOptions { ReadOnly = true });
            var mime = BootstrapArtifact.Build(Bootstrap(false, one, two, three), BootstrapFormat.Mime, compress: true, mergeWith: existing);
            Assert.True(mime.Bytes.Length <= BootstrapArtifact.UserDataLimit);
            await BootFromSeedAsync(node, "iid-mime", mime.Bytes);
            await AssertCloudInitDoneAsync(node, "all 3 steps succeeded (2 changed the node)");
            Assert.Equal("user part ran", await node.ShAsync("cat /root/user-part", Ct));
            Assert.Equal(mime.Script.Text, await node.ReadFileAsync("/var/lib/cloud/instance/scripts/s3mount-bootstrap.sh", Ct));
            Assert.Contains("kind: NodeConfig", await node.ShAsync("gunzip -c /var/lib/cloud/instance/user-data.txt", Ct), StringComparison.Ordinal);
            await AssertMountsAsync(node, [one, two, three]);
        }
        finally
        {
            await Lab.RemoveNodeAsync(node, Ct);
        }
    }

    [Fact]
    public async Task Cloud_init_runs_the_loader_of_four_mounts_with_an_install_step_and_refuses_a_changed_script()
    {
        // A fresh node as an autoscaling group launches one: no mount-s3 in the image, so the bootstrap installs it, and
        // four mounts with that install do not fit in EC2 user data: the user data is the loader, the script is on a
        // server (here the host's loopback, which the lab's nodes share, as they reach the package server).
        var node = (await Lab.AddNodesAsync(["bld1"], standInPreinstalled: false, Ct))[0];
        ScriptServer? server = null;
        try
        {
            Assert.Equal(string.Empty, (await node.ShAsync("command -v mount-s3; true", Ct)).Trim());
            await InstallCloudInitAsync(node);
            await node.ShAsync("useradd -m ec2-user", Ct);

            var mounts = new[]
            {
                MountSpec.Create("lab-bucket", "/mnt/loader ref", options: new MountOptions { ReadOnly = true, AllowOther = true, CacheDirectory = "/var/cache/s3mount/loader", MetadataTtl = MetadataTtl.Parse("300") }),
                MountSpec.Create("s3://lab-bucket-2/runs/", "/mnt/runs", options: new MountOptions { AllowDelete = true, AllowOther = true, DirMode = Convert.ToInt32("750", 8) }, user: "ec2-user") with { Environment = new[] { "MOUNT_NOTE=loaded at first boot" } },
                MountSpec.Create("s3://lab-bucket/gz/", "/mnt/gz", options: new MountOptions { ReadOnly = true, MaxCacheSizeMiB = 512, CacheDirectory = "/mnt/nvme/gz" }),
                MountSpec.Create("lab-bucket-2", "/mnt/results", options: new MountOptions { AllowDelete = true, AllowOverwrite = true, Uid = 1000, Gid = 1000, FileMode = Convert.ToInt32("640", 8) }),
            };
            var script = Bootstrap(true, mounts);
            Assert.Equal(5, script.Steps.Count);

            // Self-contained, even gzip-compressed, it is refused: that is why the loader exists.
            var selfContained = Assert.Throws<S3MountException>(() => BootstrapArtifact.Build(script, BootstrapFormat.CloudConfig, compress: true));
            Assert.Equal(BootstrapErrorIds.TooLarge, selfContained.ErrorId);
            output.WriteLine($"self-contained CloudConfig -Compress refused: {selfContained.Message}");

            server = new ScriptServer("/s3mount/boot.sh");
            var uri = server.Url;
            var artifact = BootstrapArtifact.Build(script, BootstrapFormat.CloudConfig, compress: true, scriptUri: uri);
            Assert.True(artifact.Bytes.Length <= BootstrapArtifact.UserDataLimit, $"{artifact.Bytes.Length:N0} bytes");
            Assert.NotNull(artifact.Loader);
            output.WriteLine($"loader CloudConfig -Compress: {artifact.Bytes.Length:N0} bytes of user data (limit {BootstrapArtifact.UserDataLimit:N0}); loader {Encoding.UTF8.GetByteCount(artifact.Loader!.Text):N0} bytes; the script at {uri}: {artifact.ScriptBytes.Length:N0} bytes, {BootstrapArtifact.Gzip(artifact.ScriptBytes).Length:N0} gzip-compressed");
            var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(artifact.ScriptBytes));

            // 1. The script of the export: downloaded from the host, verified, kept, run.
            server.Body = artifact.ScriptBytes;
            await BootFromSeedAsync(node, "iid-loader", artifact.Bytes);
            await AssertCloudInitDoneAsync(node, "all 5 steps succeeded (5 changed the node)");
            Assert.Equal(1, server.Gets);
            var journal = await node.ShAsync("journalctl -b -t s3mount-bootstrap --no-pager -o cat", Ct);
            Assert.Contains($"s3mount-bootstrap: downloading the bootstrap script from {uri}", journal, StringComparison.Ordinal);
            Assert.Contains($"s3mount-bootstrap: running {BootstrapScript.NodePath} (SHA-256 {sha}, verified)", journal, StringComparison.Ordinal);
            Assert.Equal(5, StepLines(journal).Count(l => l.Contains(": done, ", StringComparison.Ordinal)));
            Assert.Equal(artifact.ScriptBytes, await ReadBytesAsync(node, BootstrapScript.NodePath));
            Assert.Equal("700 root:root", await node.ShAsync("stat -c '%a %U:%G' " + BootstrapScript.NodePath, Ct));
            Assert.Equal(artifact.Loader.Text, await node.ReadFileAsync(BootstrapLoader.NodePath, Ct));
            Assert.Equal("700 root:root", await node.ShAsync("stat -c '%a %U:%G' " + BootstrapLoader.NodePath, Ct));
            Assert.Equal("mount-s3 1.23.0", (await node.ShAsync("mount-s3 --version", Ct)).Trim());
            await AssertMountsAsync(node, mounts);
            Assert.Equal("user_allow_other", await node.ShAsync("grep -x user_allow_other /etc/fuse.conf", Ct));

            // 2. The script changed at its location since the export (here: a line that would leave a mark): a new
            // instance with the same user data downloads it and refuses it, and runs nothing.
            var text = Encoding.UTF8.GetString(artifact.ScriptBytes);
            var changed = Encoding.UTF8.GetBytes(text.Insert(text.IndexOf('\n', StringComparison.Ordinal) + 1, ": >/root/changed-script-ran\n"));
            var changedSha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(changed));
            server.Body = changed;
            await BootFromSeedAsync(node, "iid-loader-changed", artifact.Bytes);
            Assert.Equal(2, server.Gets);
            var status = await node.ExecAsync("cloud-init status --long", cancellationToken: Ct);
            var log = await node.ReadFileAsync("/var/log/cloud-init-output.log", Ct);
            Assert.True(!status.StdOut.Contains("status: done", StringComparison.Ordinal) && status.StdOut.Contains("status: error", StringComparison.Ordinal), status + "\n" + log);
            var refusal = $"s3mount-bootstrap: FAILED: {uri} is not the script this user data was exported with (SHA-256 {changedSha}, {changed.Length} bytes; expected {sha}, {artifact.ScriptBytes.Length} bytes); nothing was run.";
            Assert.Contains(refusal, log, StringComparison.Ordinal);
            journal = await node.ShAsync("journalctl -b -t s3mount-bootstrap --no-pager -o cat", Ct);
            Assert.Contains(refusal, journal, StringComparison.Ordinal);
            Assert.DoesNotContain("running " + BootstrapScript.NodePath, journal, StringComparison.Ordinal);
            Assert.Empty(StepLines(journal));
            Assert.Empty(StepLines(log));
            Assert.DoesNotContain("steps succeeded", journal, StringComparison.Ordinal);
            Assert.Equal("absent", (await node.ShAsync("test -e /root/changed-script-ran && echo present || echo absent", Ct)).Trim());
            Assert.Equal(artifact.ScriptBytes, await ReadBytesAsync(node, BootstrapScript.NodePath));
            Assert.Equal(string.Empty, (await node.ShAsync("ls -A /var/lib/s3mount | grep -v -x -e bootstrap.sh -e bootstrap-loader.sh; true", Ct)).Trim());

            // What the first boot made is still there: the mounts come back by themselves.
            await AssertMountsAsync(node, mounts);
        }
        finally
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }

            await Lab.RemoveNodeAsync(node, Ct);
        }
    }

    [Fact]
    public async Task Get_S3MountService_of_node_A_piped_into_the_export_in_pwsh_gives_node_B_the_same_mounts()
    {
        var pwsh = PwshPath();
        var added = await Lab.AddNodesAsync(["bsrc"], standInPreinstalled: true, Ct);
        var a = added[0];
        var b = (await Lab.AddNodesAsync(["bdst"], standInPreinstalled: false, Ct))[0];
        try
        {
            await a.ShAsync("useradd -m ec2-user", Ct);
            await b.ShAsync("useradd -m ec2-user", Ct);
            var specs = new[]
            {
                MountSpec.Create("s3://lab-bucket/ref/", "/fsx/ref data", options: new MountOptions { ReadOnly = true, AllowOther = true, CacheDirectory = "/mnt/nvme/ref", MaxCacheSizeMiB = 1024, MetadataTtl = MetadataTtl.Parse("indefinite") }, user: "ec2-user"),
                MountSpec.Create("lab-bucket-2", "/mnt/results", options: new MountOptions { AllowDelete = true, AllowOverwrite = true, Uid = 1000, Gid = 1000, FileMode = Convert.ToInt32("640", 8) }) with { Environment = new[] { "S3MOUNT_NOTE=results of the night run" } },
                MountSpec.Create("lab-bucket", "/mnt/plain"),
            };
            foreach (var s in specs)
            {
                var created = await a.CreateAsync(new CreateRequest(s), Ct);
                Assert.Equal(MountHealth.Healthy, created.Service.Health);
            }

            using var fake = new FakeSsmServer();
            const string id = "i-0b00757a00000a001";
            fake.AddInstance(id, DelegateInstance.FromExec(async (commands, _, _) =>
            {
                var r = await a.RunAsync(["/bin/sh", "-c", commands], timeout: TimeSpan.FromMinutes(2), cancellationToken: Ct);
                return (r.ExitCode, r.StdOut, r.StdErr);
            }));

            var file = Path.Combine(Path.GetTempPath(), "s3mount-a-to-b-" + Guid.NewGuid().ToString("N") + ".sh");
            try
            {
                var command =
                    $"Import-Module '{Path.Combine(RepoRoot(), "out", "S3Mount", "S3Mount.psd1")}' -ErrorAction Stop; " +
                    $"Get-S3MountService -InstanceId {id} -EndpointUrl '{fake.Endpoint}' -Region us-east-1 -AccessKey AKIABOOTSTRAPLAB0001 -SecretKey 'boot/strap/lab/secret/000000000000000000' | " +
                    $"Export-S3MountBootstrap -Version 1.23.0 -ReleaseUrl '{Lab.PackageBaseUrl!.ToString().TrimEnd('/')}' -TrustedFingerprint {Lab.KeyFingerprint} -OutFile '{file}' -WarningAction SilentlyContinue -ErrorAction Stop";
                var sw = Stopwatch.StartNew();
                var (code, text) = await RunAsync(pwsh, ["-NoProfile", "-NonInteractive", "-Command", command]);
                output.WriteLine($"TIMING pwsh Get-S3MountService through SSM | Export-S3MountBootstrap: {sw.Elapsed.TotalSeconds:F1} s");
                Assert.True(code == 0, text);
                var artifact = await File.ReadAllTextAsync(file, Ct);
                Assert.DoesNotContain("boot/strap/lab/secret", artifact, StringComparison.Ordinal);
                Assert.DoesNotContain("AKIABOOTSTRAPLAB0001", artifact, StringComparison.Ordinal);

                await b.CopyInAsync(file, "/root/bootstrap.sh", "0700", Ct);
                var run = await b.RunAsync(["/bin/sh", "/root/bootstrap.sh"], timeout: TimeSpan.FromMinutes(5), cancellationToken: Ct);
                Assert.True(run.ExitCode == 0, run.ToString());
                Assert.Equal(new[] { "1", "1", "1", "1" }, Changed(run.StdOut));
            }
            finally
            {
                File.Delete(file);
            }

            // Field by field: every mount of A is on B, healthy, and nothing else is there.
            var onA = (await a.ListAsync(ct: Ct)).Items.ToDictionary(s => s.Name);
            var onB = (await b.ListAsync(ct: Ct)).Items.ToDictionary(s => s.Name);
            Assert.Equal(onA.Keys.Order(), onB.Keys.Order());
            foreach (var (name, sa) in onA)
            {
                var differences = MountSpecFields.Compare(sa.Spec, onB[name].Spec);
                Assert.True(differences.Count == 0, name + ": " + string.Join("; ", differences));
                Assert.Equal(MountHealth.Healthy, onB[name].Health);
                Assert.True(onB[name].Enabled);
            }

            Assert.Equal(specs.Select(s => s.UnitName).Order(), onB.Keys.Order());
        }
        finally
        {
            await Lab.RemoveNodeAsync(a, Ct);
            await Lab.RemoveNodeAsync(b, Ct);
        }
    }

    // What the first-boot unit left: its exit status, each step's Changed flag (from its stdout, result blocks only), and its journal.
    private static async Task<(string Exit, string[] Changed, string Journal)> FirstBootAsync(LabNode node)
    {
        var exit = await node.ShAsync("systemctl show -p ExecMainStatus --value firstboot.service", Ct);
        var stdout = await node.ReadFileAsync("/var/log/firstboot.out", Ct);
        var journal = await node.ShAsync("journalctl -b -u firstboot.service --no-pager -o cat", Ct);
        return (exit.Trim(), Changed(stdout), journal);
    }

    // The changed flag of each result block on a bootstrap's stdout (install: "changed N"; create: "result NAME N ADOPTED").
    private static string[] Changed(string stdout)
    {
        var flags = new List<string>();
        foreach (var block in stdout.Split(ResultBlock.EndMarker + "\n", StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.StartsWith(ResultBlock.BeginMarker + " 1\n", block, StringComparison.Ordinal);
            var parsed = ResultBlock.Parse(block + ResultBlock.EndMarker + "\n");
            Assert.Null(NodeResultParser.ErrorOf(parsed, null));
            flags.Add(parsed.First("changed")?[0] ?? parsed.First("result")![1]);
        }

        return flags.ToArray();
    }

    private static async Task AssertMountsAsync(LabNode node, IReadOnlyList<MountSpec> mounts)
    {
        var listed = (await node.ListAsync(ct: Ct)).Items.ToDictionary(s => s.Name);
        foreach (var m in mounts)
        {
            Assert.True(listed.TryGetValue(m.UnitName, out var s), m.UnitName + " is not on " + node.Name);
            Assert.True(MountSpecFields.Compare(m, s!.Spec).Count == 0, string.Join("; ", MountSpecFields.Compare(m, s.Spec)));
            Assert.True(s.Health == MountHealth.Healthy, $"{s.Name}: {s.Health} {s.HealthReason}");
            Assert.True(s.Enabled);

            // Its health check runs, with the program the bootstrap rebuilt on the node (s3b_program).
            Assert.Equal((m.HealthCheckIntervalSeconds, "active"), (s.HealthCheckIntervalSeconds, s.HealthCheckState));
        }

        var check = await node.ExecAsync($"{HealthUnits.ProgramPath} {HealthUnits.NameFor(mounts[0].UnitName)} {NodeScript.ShellQuote(mounts[0].Path)}", cancellationToken: Ct);
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Matches("(?m)^check " + mounts[0].UnitName.Replace(".", "\\.", StringComparison.Ordinal) + " healthy 1$", check.StdOut);
    }

    // A new instance as cloud-init sees one: the seed's user data and a new instance id, cloud-init's state cleaned, a boot.
    private async Task BootFromSeedAsync(LabNode node, string instanceId, byte[] userData)
    {
        var host = Path.Combine(Path.GetTempPath(), "s3mount-seed-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(host, userData, Ct);
        try
        {
            await node.CopyInAsync(host, "/var/lib/cloud/seed/nocloud/user-data", "0600", Ct);
        }
        finally
        {
            File.Delete(host);
        }

        await node.WriteFileAsync("/var/lib/cloud/seed/nocloud/meta-data", $"instance-id: {instanceId}\nlocal-hostname: {node.Name}\n", "0644", Ct);
        await node.ShAsync("cloud-init clean --logs", Ct);
        var sw = Stopwatch.StartNew();
        await node.RebootAsync(Ct);
        var startup = (await node.ExecAsync("systemd-analyze time 2>&1 | head -n 1", cancellationToken: Ct)).StdOut.Trim();
        output.WriteLine($"TIMING halt and boot with cloud-init ({instanceId}): {sw.Elapsed.TotalSeconds:F1} s; the node's own: {startup}");
    }

    private static async Task AssertCloudInitDoneAsync(LabNode node, string closing)
    {
        var status = await node.ExecAsync("cloud-init status --long", cancellationToken: Ct);
        var log = await node.ReadFileAsync("/var/log/cloud-init-output.log", Ct);
        Assert.True(status.StdOut.Contains("status: done", StringComparison.Ordinal), status + "\n" + log);
        Assert.Contains("s3mount-bootstrap: " + closing, log, StringComparison.Ordinal);
        Assert.Contains("s3mount-bootstrap: " + closing, await node.ShAsync("journalctl -b -t s3mount-bootstrap --no-pager -o cat", Ct), StringComparison.Ordinal);
    }

    // cloud-init from the node's Debian mirror, with a NoCloud seed directory and no network or locale configuration.
    private async Task InstallCloudInitAsync(LabNode node)
    {
        var sw = Stopwatch.StartNew();
        await node.ExecCheckedAsync(
            "export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends cloud-init >/dev/null 2>&1 && " +
            "printf 'network: {config: disabled}\\ndatasource_list: [NoCloud, None]\\nlocale: false\\napt: {preserve_sources_list: true}\\n' >/etc/cloud/cloud.cfg.d/99-lab.cfg && mkdir -p /var/lib/cloud/seed/nocloud",
            timeout: TimeSpan.FromMinutes(5), cancellationToken: Ct);
        output.WriteLine($"TIMING apt-get install cloud-init: {sw.Elapsed.TotalSeconds:F1} s; {(await node.ShAsync("cloud-init --version 2>&1", Ct)).Trim()}");
    }

    // A node's file, byte for byte.
    private static async Task<byte[]> ReadBytesAsync(LabNode node, string path)
    {
        var host = Path.Combine(Path.GetTempPath(), "s3mount-out-" + Guid.NewGuid().ToString("N"));
        try
        {
            await node.CopyOutAsync(path, host, Ct);
            return await File.ReadAllBytesAsync(host, Ct);
        }
        finally
        {
            File.Delete(host);
        }
    }

    // The bootstrap's step lines ("s3mount-bootstrap: step N of M, ...") in a log.
    private static string[] StepLines(string log) =>
        log.Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, "^s3mount-bootstrap: step [0-9]+ of [0-9]+, ")).ToArray();

    // A bootstrap script's location on the host's loopback (the lab's nodes share it): GET of one path answers Body.
    private sealed class ScriptServer : IAsyncDisposable
    {
        private readonly System.Net.HttpListener listener = new();
        private readonly string path;
        private readonly Task loop;
        private int gets;

        public ScriptServer(string path)
        {
            this.path = path;
            for (var attempt = 0; ; attempt++)
            {
                var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
                probe.Start();
                var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
                probe.Stop();
                this.listener.Prefixes.Clear();
                this.listener.Prefixes.Add($"http://127.0.0.1:{port}/");
                try
                {
                    this.listener.Start();
                    this.Url = $"http://127.0.0.1:{port}{path}";
                    break;
                }
                catch (System.Net.HttpListenerException) when (attempt < 5)
                {
                    // Taken between the probe and the listener: another port.
                }
            }

            this.loop = Task.Run(this.ServeAsync);
        }

        public string Url { get; } = string.Empty;

        public byte[] Body { get; set; } = [];

        /// <summary>GETs of the path answered so far.</summary>
        public int Gets => Volatile.Read(ref this.gets);

        public async ValueTask DisposeAsync()
        {
            this.listener.Stop();
            this.listener.Close();
            await this.loop;
        }

        private async Task ServeAsync()
        {
            while (true)
            {
                System.Net.HttpListenerContext c;
                try
                {
                    c = await this.listener.GetContextAsync();
                }
                catch (Exception e) when (e is System.Net.HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                using var response = c.Response;
                if (c.Request.HttpMethod == "GET" && c.Request.Url?.AbsolutePath == this.path)
                {
                    var body = this.Body;
                    response.ContentType = "text/x-shellscript";
                    response.ContentLength64 = body.Length;
                    try
                    {
                        await response.OutputStream.WriteAsync(body);
                        Interlocked.Increment(ref this.gets);
                    }
                    catch (System.Net.HttpListenerException)
                    {
                        // The client went away.
                    }
                }
                else
                {
                    response.StatusCode = 404;
                }
            }
        }
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "S3Mount.slnx")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException("S3Mount.slnx not found above " + AppContext.BaseDirectory);
    }

    // The pwsh of .ci/setup (or on PATH) and the built module; missing, the test skips (fails under CI).
    private static string PwshPath()
    {
        var root = RepoRoot();
        var pwsh = new[] { Path.Combine(root, ".tools", "pwsh", "pwsh") }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Select(p => Path.Combine(p, "pwsh")))
            .FirstOrDefault(File.Exists);
        var module = Path.Combine(root, "out", "S3Mount", "S3Mount.psd1");
        if (pwsh is null || !File.Exists(module))
        {
            LabSkip.SkipOrFail(pwsh is null ? "pwsh is not installed (bash .ci/setup puts it in .tools/pwsh)" : "the module is not built (dotnet build S3Mount.slnx)");
        }

        return pwsh!;
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var so = p.StandardOutput.ReadToEndAsync(Ct);
        var se = p.StandardError.ReadToEndAsync(Ct);
        await p.WaitForExitAsync(Ct);
        return (p.ExitCode, await so + await se);
    }
}
