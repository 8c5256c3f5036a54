using System.Diagnostics;
using S3Mount.Engine.Model;
using S3Mount.Engine.Units;

namespace S3Mount.Engine.Tests;

/// <summary>
/// Runs the real <c>systemd-analyze verify</c> on rendered units. It exits 0 for unknown keys and unparsable values
/// and only warns on stderr, so any stderr line about the unit fails the test.
/// </summary>
public class SystemdVerifyTests
{
    private static string? Analyzer => new[] { "/usr/bin/systemd-analyze", "/bin/systemd-analyze" }.FirstOrDefault(File.Exists);

    public static IEnumerable<object[]> Matrix()
    {
        yield return new object[] { "plain", MountSpec.Create("my-bucket", "/mnt/s3") };
        yield return new object[] { "recipe defaults", MountSpec.Create("my-bucket", "/mnt/s3", options: new MountOptions { AllowRoot = true, ReadOnly = true, DebugLogging = true }, user: "ec2-user", group: "ec2-user") };
        yield return new object[] { "hostile path", MountSpec.Create("my-bucket", "/mnt/a b/100%n $HOME ${X} \"q\" 'q' \\x/日本 ;#", "p 1/") };
        yield return new object[] { "uri + cache + env", MountSpec.Create("s3://b-1/x y/", "/data/x", options: new MountOptions { CacheDirectory = "/var/cache/s3 %h", MaxCacheSizeMiB = 1024, MetadataTtl = MetadataTtl.Indefinite }) with { Environment = new[] { "AWS_CONFIG_FILE=/etc/a b/%i", "P=$HOME" } } };
        var gen = new SpecGenerator(7);
        for (var i = 0; i < 12; i++)
        {
            yield return new object[] { "generated " + i, gen.NextValid() };
        }
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public void Rendered_units_verify_without_warnings(string name, MountSpec spec)
    {
        if (Analyzer is null)
        {
            if (Environment.GetEnvironmentVariable("CI") is not null)
            {
                Assert.Fail("systemd-analyze is missing; .ci/run installs systemd.");
            }

            Assert.Skip("systemd-analyze is not installed on this machine (apt-get install systemd).");
        }

        var dir = Directory.CreateTempSubdirectory("s3mount-verify-");
        try
        {
            // verify looks executables up on this machine: point ExecStart at a stand-in that exists.
            var exe = Path.Combine(dir.FullName, "mount-s3");
            File.WriteAllText(exe, "#!/bin/sh\nexit 0\n");
            File.SetUnixFileMode(exe, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
            var unit = Path.Combine(dir.FullName, spec.UnitName);
            File.WriteAllText(unit, UnitRenderer.Render(spec, exe));

            var psi = new ProcessStartInfo(Analyzer!, new[] { "verify", "--man=no", unit }) { RedirectStandardError = true, RedirectStandardOutput = true };
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEnd();
            var stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            var ours = stderr.Split('\n').Where(l => l.Contains(spec.UnitName) || l.Contains("Unknown") || l.Contains("Failed to parse") || l.Contains("Ignoring")).ToList();
            Assert.True(p.ExitCode == 0 && ours.Count == 0, $"{name}: exit {p.ExitCode}\n{stderr}\n{stdout}\n{File.ReadAllText(unit)}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
