using S3Mount.Engine.Model;
using S3Mount.Engine.Units;

namespace S3Mount.Engine.Tests;

public class RecipeUnitTests
{
    private static ParsedUnit Load(string name) =>
        UnitParser.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "recipe", name)), name);

    [Fact]
    public void Default_recipe_options_parse_into_the_model()
    {
        var u = Load("default-options.service");
        Assert.Equal(UnitOrigin.Recipe, u.Origin);
        Assert.Null(u.FormatVersion);
        Assert.Equal("/usr/bin/mount-s3", u.Executable);
        var expected = new MountSpec
        {
            Bucket = "my-bucket",
            Path = "/mnt/s3",
            User = "ec2-user",
            Group = "ec2-user",
            Options = new MountOptions { AllowRoot = true, ReadOnly = true, DebugLogging = true },
        };
        Assert.Equal(expected, u.Spec);
        Assert.Equal("mountpoint-s3-17a82347.service", u.Spec.UnitName);
        Assert.Contains(u.Warnings, w => w.Contains("network-online.target"));
        Assert.Contains(u.Warnings, w => w.Contains("Restart="));
    }

    [Fact]
    public void Usr_lib_rocky_unit_with_custom_options_parses()
    {
        var u = Load("usr-lib-rocky.service");
        Assert.Equal("genomics-ref", u.Spec.Bucket);
        Assert.Equal("/fsx/ref", u.Spec.Path);
        Assert.Equal("rocky", u.Spec.User);
        Assert.Equal(new MountOptions { AllowOther = true, BucketRegion = "us-east-1", CacheDirectory = "/tmp/s3cache", MaxCacheSizeMiB = 10240 }, u.Spec.Options);
    }

    [Fact]
    public void Typo_in_assert_key_is_a_warning_not_a_failure()
    {
        var u = Load("typo-assert.service");
        Assert.Equal("hpc-scratch", u.Spec.Bucket);
        Assert.Equal("/scratch/s3", u.Spec.Path);
        Assert.Contains(u.Warnings, w => w.Contains("AssertPathIsTARGET_DIRECTORY"));
    }

    [Fact]
    public void ExecStop_for_another_path_is_reported()
    {
        var u = Load("foreign-execstop.service");
        Assert.Equal("/data/results", u.Spec.Path);
        Assert.Equal(new MountOptions { AllowDelete = true, AllowOther = true, Uid = 1000, Gid = 1000 }, u.Spec.Options);
        Assert.Contains(u.Warnings, w => w.Contains("ExecStop= unmounts '/mnt/s3'"));
    }

    [Fact]
    public void Uri_bucket_and_trailing_slash_normalise_to_the_same_model()
    {
        var u = Load("uri-trailing-slash.service");
        Assert.Equal("my-bucket", u.Spec.Bucket);
        Assert.Equal("runs/", u.Spec.Prefix);
        Assert.Equal("/mnt/runs", u.Spec.Path);
        Assert.True(u.Spec.Options.ReadOnly);
    }

    [Fact]
    public void Recipe_spec_renders_to_an_S3Mount_unit_that_parses_back_identically()
    {
        foreach (var f in new[] { "default-options.service", "usr-lib-rocky.service", "typo-assert.service", "foreign-execstop.service", "uri-trailing-slash.service" })
        {
            var spec = Load(f).Spec;
            Assert.Empty(SpecValidator.Validate(spec));
            Assert.Equal(spec, UnitParser.Parse(UnitRenderer.Render(spec)).Spec);
        }
    }

    [Fact]
    public void Unknown_options_in_a_recipe_unit_are_kept_not_fatal()
    {
        var u = UnitParser.Parse("[Service]\nExecStart=/usr/bin/mount-s3 --frobnicate 3 --uid abc --read-only b-1 /mnt/x\n");
        Assert.True(u.Spec.Options.ReadOnly);
        Assert.Equal(new[] { "--frobnicate", "3", "--uid", "abc" }, u.Spec.ExtraArguments.ToArray());
        Assert.Equal(2, u.Warnings.Count(w => w.Contains("--frobnicate") || w.Contains("abc")));
    }

    [Fact]
    public void A_unit_without_ExecStart_is_refused_with_an_id()
    {
        var e = Assert.Throws<Errors.S3MountException>(() => UnitParser.Parse("[Unit]\nDescription=x\n", "mountpoint-s3-00000000.service"));
        Assert.Equal("S3MountUnitInvalid", e.ErrorId);
    }
}
