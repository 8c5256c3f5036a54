using S3Mount.Engine.Model;
using S3Mount.Engine.Units;

namespace S3Mount.Engine.Tests;

public class UnitRoundTripTests
{
    [Fact]
    public void Unit_name_matches_the_field_recipe()
    {
        Assert.Equal("mountpoint-s3-17a82347.service", UnitNames.For("my-bucket", "/mnt/s3"));
        Assert.Equal("mountpoint-s3-17a82347.service", MountSpec.Create("my-bucket", "/mnt//s3/").UnitName);
    }

    [Fact]
    public void Unit_name_is_md5_of_utf8_bytes_like_md5sum()
    {
        // printf '%s' 'b-1:/mnt/日本' | md5sum  -> 2ff5b40e...
        var expected = Md5Sum("b-1:/mnt/日本");
        Assert.Equal("mountpoint-s3-" + expected.Substring(0, 8) + ".service", UnitNames.For("b-1", "/mnt/日本"));
    }

    private static string Md5Sum(string text)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("md5sum") { RedirectStandardInput = true, RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        p.StandardInput.BaseStream.Write(System.Text.Encoding.UTF8.GetBytes(text));
        p.StandardInput.Close();
        var o = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return o.Substring(0, 32);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Parse_of_render_is_the_spec_for_generated_specs(int seed)
    {
        var gen = new SpecGenerator(seed);
        for (var i = 0; i < 250; i++)
        {
            var spec = gen.NextValid();
            var text = UnitRenderer.Render(spec);
            var parsed = UnitParser.Parse(text, spec.UnitName);
            Assert.True(spec == parsed.Spec, $"round trip differs for seed {seed} #{i}\n--- spec\n{spec}\n--- parsed\n{parsed.Spec}\n--- unit\n{text}");
            Assert.Equal(UnitOrigin.S3Mount, parsed.Origin);
            Assert.Equal(UnitRenderer.FormatVersion, parsed.FormatVersion);
            Assert.Empty(parsed.Warnings);
        }
    }

    [Fact]
    public void ExecStart_words_read_back_as_the_argv()
    {
        var gen = new SpecGenerator(42);
        for (var i = 0; i < 200; i++)
        {
            var spec = gen.NextValid();
            var argv = UnitRenderer.ExecStartArgv(spec);
            var line = UnitParser.ReadEntries(UnitRenderer.Render(spec)).Single(e => e.Key == "ExecStart").Value;
            Assert.Equal(argv, SystemdSyntax.SplitExec(line).Words);
        }
    }

    [Fact]
    public void Rendered_unit_has_the_required_shape()
    {
        var spec = MountSpec.Create("s3://my-bucket/runs/", "/mnt/my data%n", options: new MountOptions { ReadOnly = true, AllowOther = true }, user: "ec2-user");
        var text = UnitRenderer.Render(spec);
        var e = UnitParser.ReadEntries(text);
        string V(string s, string k) => e.Single(x => x.Section == s && x.Key == k).Value;
        Assert.Contains("# Managed by S3Mount", text);
        Assert.Equal("network-online.target", V("Unit", "Wants"));
        Assert.Equal("network-online.target", V("Unit", "After"));
        Assert.Equal("remote-fs.target", V("Install", "WantedBy"));
        Assert.Equal("/mnt/my data%%n", V("Unit", "AssertPathIsDirectory"));
        Assert.Equal("forking", V("Service", "Type"));
        Assert.Equal("ec2-user", V("Service", "User"));
        Assert.Equal("always", V("Service", "Restart"));
        Assert.Equal("2", V("Service", "RestartPreventExitStatus"));
        Assert.Equal("2", V("Service", "RestartSec"));
        Assert.Equal("0", V("Unit", "StartLimitIntervalSec"));
        Assert.DoesNotContain(e, x => x.Key == "StartLimitBurst");
        Assert.Equal("30", V("Unit", "X-S3Mount-HealthCheck"));
        Assert.True(int.Parse(V("Service", "TimeoutStartSec")) > 30 + UnitRenderer.RestartMaxDelaySeconds);

        // Before the start: the back-off wait, then the lazy unmount of a dead mount; after: the back-off bookkeeping.
        string[] Argv0(string key) => e.Where(x => x.Key == key).Select(x => { Assert.StartsWith("-+/bin/sh", x.Value); return SystemdSyntax.SplitExec(x.Value).Words[3]; }).ToArray();
        Assert.Equal(new[] { UnitRenderer.BackoffArgv0, UnitRenderer.CleanupArgv0 }, Argv0("ExecStartPre"));
        Assert.Equal(new[] { UnitRenderer.BackoffArgv0 }, Argv0("ExecStartPost"));
        Assert.Equal(new[] { UnitRenderer.CleanupArgv0, UnitRenderer.BackoffArgv0 }, Argv0("ExecStopPost"));
        Assert.Equal("my-bucket", V("Unit", "X-S3Mount-Bucket"));
        Assert.Equal("runs/", V("Unit", "X-S3Mount-Prefix"));
        Assert.Equal("/mnt/my data%25n", V("Unit", "X-S3Mount-Path"));
        Assert.Equal(new[] { "/usr/bin/mount-s3", "--prefix", "runs/", "--read-only", "--allow-other", "my-bucket", "/mnt/my data%n" }, UnitRenderer.ExecStartArgv(spec));
    }

    [Fact]
    public void Cleanup_snippet_is_passed_the_mountinfo_form_of_the_path()
    {
        var spec = MountSpec.Create("b-1", "/mnt/a b\\c");
        var pre = UnitParser.ReadEntries(UnitRenderer.Render(spec)).Single(x => x.Key == "ExecStartPre" && x.Value.Contains(UnitRenderer.CleanupArgv0)).Value;
        var words = SystemdSyntax.SplitExec(pre).Words;
        Assert.Equal(new[] { "/bin/sh", "-c", UnitRenderer.CleanupScript, UnitRenderer.CleanupArgv0, "/mnt/a\\040b\\134c", "/mnt/a b\\c" }, words);
    }
}
