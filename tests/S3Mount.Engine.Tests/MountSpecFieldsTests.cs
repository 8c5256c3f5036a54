using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;

namespace S3Mount.Engine.Tests;

public class MountSpecFieldsTests
{
    private static KeyValuePair<string, object?> F(string name, object? value) => new(name, value);

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    public void Fields_of_a_spec_build_the_same_spec(int seed)
    {
        var gen = new SpecGenerator(seed);
        for (var i = 0; i < 250; i++)
        {
            var spec = gen.NextValid();
            var fields = MountSpecFields.ToFields(spec);
            var back = MountSpecFields.Build(null, fields.Select(kv => F(kv.Key, kv.Value)));
            Assert.True(spec == back, $"seed {seed} #{i}\n{spec}\n{back}\n{string.Join("\n", fields)}");
            Assert.Empty(MountSpecFields.Compare(spec, back));
        }
    }

    [Fact]
    public void A_field_given_over_a_base_changes_only_that_field()
    {
        var baseSpec = MountSpecFields.Build(null, new[]
        {
            F("Bucket", "genomics-ref"), F("Path", "/fsx/ref"), F("ReadOnly", true), F("AllowOther", true), F("User", "ec2-user"),
            F("CacheDirectory", "/mnt/nvme/cache/ref"), F("MaxCacheSizeMiB", 10240), F("BucketRegion", "us-east-1"),
        });

        var changed = MountSpecFields.Build(baseSpec, new[] { F("MaxThreads", 32), F("AllowOther", false), F("AllowRoot", true) });
        Assert.Equal("genomics-ref", changed.Bucket);
        Assert.Equal("ec2-user", changed.User);
        Assert.True(changed.Options.ReadOnly);
        Assert.False(changed.Options.AllowOther);
        Assert.True(changed.Options.AllowRoot);
        Assert.Equal(32, changed.Options.MaxThreads);
        Assert.Equal("/mnt/nvme/cache/ref", changed.Options.CacheDirectory);
        Assert.Equal("us-east-1", changed.Options.BucketRegion);

        var diff = MountSpecFields.Compare(baseSpec, changed);
        Assert.Equal(new[] { "AllowRoot", "AllowOther", "MaxThreads" }, diff.Select(d => d.Field));
        Assert.Equal(new MountSpecDifference("AllowOther", true, null), diff[1]);
        Assert.Equal("MaxThreads: (not set) -> 32", diff[2].ToString());
    }

    [Fact]
    public void Names_are_case_insensitive_and_enumerated_values_take_any_case()
    {
        var spec = MountSpecFields.Build(null, new[] { F("bucket", "b-1"), F("PATH", "/mnt/b"), F("sse", "aes256"), F("UploadChecksums", "CRC64NVME"), F("bucketType", "Directory") });
        Assert.Equal(ServerSideEncryption.Aes256, spec.Options.Sse);
        Assert.Equal(UploadChecksums.Crc64nvme, spec.Options.UploadChecksums);
        Assert.Equal(BucketType.Directory, spec.Options.BucketType);
    }

    [Fact]
    public void An_s3_uri_brings_its_prefix()
    {
        var spec = MountSpecFields.Build(null, new[] { F("Bucket", "s3://results/run-42/"), F("Path", "/mnt/results") });
        Assert.Equal("results", spec.Bucket);
        Assert.Equal("run-42/", spec.Prefix);
        Assert.Equal(ErrorIds.PrefixInvalid, Assert.Throws<S3MountException>(() =>
            MountSpecFields.Build(null, new[] { F("Bucket", "s3://results/run-42/"), F("Prefix", "other/"), F("Path", "/mnt/results") })).ErrorId);
    }

    public static TheoryData<string, object?, string> BadFields => new()
    {
        { "ReadOnlyy", true, ErrorIds.FieldUnknown },
        { "Foreground", true, ErrorIds.FieldUnknown },
        { "ReadOnly", "yes", ErrorIds.OptionInvalid },
        { "MaxThreads", "many", ErrorIds.OptionInvalid },
        { "MaxThreads", 1.5, ErrorIds.OptionInvalid },
        { "DirMode", 755, ErrorIds.OptionInvalid },
        { "BucketRegion", 5, ErrorIds.OptionInvalid },
        { "User", 1000, ErrorIds.FieldInvalid },
        { "Bind", new object[] { "eth0", 1 }, ErrorIds.FieldInvalid },
        { "Sse", "rot13", ErrorIds.OptionInvalid },
        { "AllowDelete", true, ErrorIds.OptionConflict },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public void Bad_fields_are_refused_with_the_field_named(string field, object? value, string errorId)
    {
        var e = Assert.Throws<S3MountException>(() =>
            MountSpecFields.Build(null, new[] { F("Bucket", "b-1"), F("Path", "/mnt/b"), F("ReadOnly", true), F(field, value) }.GroupBy(kv => kv.Key, StringComparer.OrdinalIgnoreCase).Select(g => g.Last())));
        Assert.Equal(errorId, e.ErrorId);
        Assert.Contains(field == "Foreground" ? "Foreground" : field, e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Bucket_and_path_are_required_and_a_field_once()
    {
        Assert.Equal(ErrorIds.FieldInvalid, Assert.Throws<S3MountException>(() => MountSpecFields.Build(null, new[] { F("Path", "/mnt/b") })).ErrorId);
        Assert.Equal(ErrorIds.FieldInvalid, Assert.Throws<S3MountException>(() => MountSpecFields.Build(null, new[] { F("Bucket", "b-1") })).ErrorId);
        Assert.Equal(ErrorIds.FieldInvalid, Assert.Throws<S3MountException>(() => MountSpecFields.Build(null, new[] { F("Bucket", "b-1"), F("bucket", "b-2"), F("Path", "/mnt/b") })).ErrorId);
    }

    [Fact]
    public void Every_option_but_foreground_is_a_field_named_like_its_parameter()
    {
        foreach (var d in OptionCatalog.All)
        {
            if (d.Property == nameof(MountOptions.Foreground))
            {
                Assert.Null(d.Parameter);
                Assert.Null(MountSpecFields.Canonical("Foreground"));
                continue;
            }

            Assert.Equal(d.Property, MountSpecFields.Canonical(d.Property.ToLowerInvariant()));
        }
    }
}
