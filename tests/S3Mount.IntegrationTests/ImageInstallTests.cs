using System;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;
using S3Mount.Engine.Install;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Lab;
using static S3Mount.IntegrationTests.LabTestHelpers;

namespace S3Mount.IntegrationTests;

/// <summary>
/// Install-MountpointS3 -Root and the other image operations on a real image: an overlay over the lab's debootstrap
/// Debian 12 tree (the same tree lab nodes boot), as an AMI build would have it. The scripts run on this machine, as
/// the cmdlets run them with -Root; the image's own apt installs the signed test package in a chroot.
/// </summary>
[Collection(InstallLabCollection.Name)]
public sealed class ImageInstallTests(InstallLabFixture fixture, ITestOutputHelper output)
{
    private NodeLab Lab => fixture.Lab;

    private static async Task<ResultBlock> RunHereAsync(NodeScript script)
    {
        var r = await new LocalScriptRunner().RunAsync(script, Ct);
        Assert.StartsWith(ResultBlock.BeginMarker + " ", r.Stdout, StringComparison.Ordinal);
        return r.Block();
    }

    private static async Task<string> ShAsync(string command)
    {
        var psi = new ProcessStartInfo("/bin/sh", new[] { "-c", command }) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var o = await p.StandardOutput.ReadToEndAsync(Ct);
        var e = await p.StandardError.ReadToEndAsync(Ct);
        await p.WaitForExitAsync(Ct);
        Assert.True(p.ExitCode == 0, command + "\n" + o + e);
        return o;
    }

    [Fact]
    public async Task Installs_into_an_image_and_the_image_reports_it()
    {
        var baseDir = (await Lab.RunLabAsync(["base"], null, TimeSpan.FromMinutes(5), Ct)).EnsureSuccess("lab.sh base").StdOut.Trim().Split('\n')[^1];
        Assert.True(File.Exists(Path.Combine(baseDir, "etc", "os-release")), baseDir);
        var work = Directory.CreateTempSubdirectory("s3mount-image-").FullName;
        var image = Path.Combine(work, "image");
        try
        {
            await ShAsync($"mkdir -p '{work}/upper' '{work}/work' '{image}' && mount -t overlay s3mount-image -o 'lowerdir={baseDir},upperdir={work}/upper,workdir={work}/work' '{image}'");
            var hostPackages = await ShAsync("dpkg-query -W -f '${Package} ${Version}\\n' | sort | sha256sum");

            var before = InstallOperations.ParseReport(await RunHereAsync(InstallOperations.Report(image)));
            Assert.Equal("debian", before.OsId);
            Assert.False(before.IsInstalled);

            var request = InstallRequest.Official("1.23.0");
            request.BaseUrl = Lab.PackageBaseUrl!.ToString().TrimEnd('/');
            request.ExtraTrustedFingerprints.Add(Lab.KeyFingerprint!);
            request.Root = image;
            var sw = Stopwatch.StartNew();
            var installed = InstallOperations.ParseInstall(await RunHereAsync(InstallOperations.Install(request)));
            output.WriteLine($"TIMING install into an image: {sw.Elapsed.TotalSeconds:F1} s");
            Assert.True(installed.Changed);
            Assert.Equal("1.23.0", installed.InstalledVersion!.Core);
            Assert.Equal(Lab.KeyFingerprint, installed.SignedBy);
            Assert.Equal("dpkg mount-s3 1.23.0", installed.InstalledPackage);

            // In the image, not here: the image's dpkg knows it, this machine's packages are unchanged, and no temporary
            // package is left in the image.
            Assert.Contains("install ok installed", await ShAsync($"dpkg-query --admindir='{image}/var/lib/dpkg' -W -f '${{Status}}' mount-s3"), StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(image, "opt", "aws", "mountpoint-s3", "bin", "mount-s3")));
            Assert.Equal(hostPackages, await ShAsync("dpkg-query -W -f '${Package} ${Version}\\n' | sort | sha256sum"));
            Assert.Empty(Directory.GetDirectories(Path.Combine(image, "var", "tmp"), "s3mount.*"));

            // Again: nothing happens. The image now reports the version, and a mount service written into it sees mount-s3.
            Assert.False(InstallOperations.ParseInstall(await RunHereAsync(InstallOperations.Install(request))).Changed);
            var after = InstallOperations.ParseReport(await RunHereAsync(InstallOperations.Report(image)));
            Assert.Equal("1.23.0", after.InstalledVersion!.Core);
            var created = NodeResultParser.Create(await RunHereAsync(NodeOperations.Create(new CreateRequest(MountSpec.Create("lab-bucket", "/mnt/s3", options: new MountOptions { ReadOnly = true })) { Root = image })));
            Assert.True(created.Changed);
            Assert.DoesNotContain(created.Warnings, w => w.Contains("not installed", StringComparison.Ordinal));
        }
        finally
        {
            await ShAsync($"umount '{image}' 2>/dev/null; rm -rf '{work}'");
        }
    }
}
