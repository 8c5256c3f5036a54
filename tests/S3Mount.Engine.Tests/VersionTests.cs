using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;

namespace S3Mount.Engine.Tests;

public class VersionTests
{
    [Theory]
    [InlineData("mount-s3 1.23.0", "1.23.0", null)]
    [InlineData("mount-s3 1.21.0+1.amzn2023", "1.21.0", "1.amzn2023")]
    [InlineData("1.7", "1.7.0", null)]
    [InlineData("  mount-s3 1.0.1\n", "1.0.1", null)]
    public void Parses_official_and_distro_versions(string text, string core, string? build)
    {
        var v = MountpointVersion.Parse(text);
        Assert.Equal(core, v.Core);
        Assert.Equal(build, v.Build);
    }

    [Theory]
    [InlineData("")]
    [InlineData("mount-s3")]
    [InlineData("not a version")]
    public void Refuses_garbage(string text) =>
        Assert.Equal(ErrorIds.VersionInvalid, Assert.Throws<S3MountException>(() => MountpointVersion.Parse(text)).ErrorId);

    [Fact]
    public void Distro_build_compares_equal_to_the_release() =>
        Assert.Equal(MountpointVersion.Parse("1.21.0"), MountpointVersion.Parse("mount-s3 1.21.0+1.amzn2023"));

    public static TheoryData<string, MountOptions, string> Gated => new()
    {
        { "1.22.0", new MountOptions { InferContentType = true }, "infer-content-type" },
        { "1.22.0", new MountOptions { CaBundle = "/etc/ssl/ca.pem" }, "ca-bundle" },
        { "1.22.0", new MountOptions { UploadChecksums = UploadChecksums.Crc64nvme }, "upload-checksums" },
        { "1.6.0", new MountOptions { UploadChecksums = UploadChecksums.Off }, "upload-checksums" },
        { "1.20.0", new MountOptions { OtlpEndpoint = "http://x:4318" }, "otlp-endpoint" },
        { "1.23.0", new MountOptions { MemoryTargetMiB = 1024 }, "memory-target" },
        { "1.11.0", new MountOptions { IncrementalUpload = true, BucketType = BucketType.Directory }, "incremental-upload" },
        { "1.3.0", new MountOptions { AllowOverwrite = true }, "allow-overwrite" },
        { "1.0.0", new MountOptions { AllowOther = true }, "allow-other" },
        { "1.14.0", new MountOptions { NegativeMetadataTtl = MetadataTtl.Minimal }, "negative-metadata-ttl" },
        { "1.8.0", new MountOptions { Bind = new[] { "eth0" } }, "bind" },
    };

    [Theory]
    [MemberData(nameof(Gated))]
    public void Options_newer_than_the_node_are_refused(string node, MountOptions o, string option)
    {
        var spec = new MountSpec { Bucket = "b-1", Path = "/mnt/x", Options = o };
        var errors = SpecValidator.Validate(spec, MountpointVersion.Parse(node));
        var e = Assert.Single(errors);
        Assert.Equal(ErrorIds.OptionUnsupported, e.ErrorId);
        Assert.Equal(option, e.Target);
        Assert.Contains(node, e.Message);
    }

    [Fact]
    public void Options_the_node_has_pass()
    {
        var spec = new MountSpec { Bucket = "b-1", Path = "/mnt/x", Options = new MountOptions { UploadChecksums = UploadChecksums.Crc64nvme, InferContentType = true, CaBundle = "/etc/ssl/ca.pem" } };
        Assert.Empty(SpecValidator.Validate(spec, MountpointVersion.Parse("mount-s3 1.23.0")));
        Assert.Empty(SpecValidator.Validate(spec with { Options = spec.Options with { MemoryTargetMiB = 1024 } }, MountpointVersion.Parse("1.24.0+1.amzn2023")));
    }

    [Fact]
    public void Every_catalog_option_has_a_since_version_no_newer_than_1_24() =>
        Assert.All(OptionCatalog.All, d => Assert.True(d.Since <= new MountpointVersion(1, 24, 0), d.Name));
}
