using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;

namespace S3Mount.Engine.Tests;

public class ValidationTests
{
    private static MountSpec Spec(MountOptions? o = null, string bucket = "my-bucket", string path = "/mnt/s3", string? prefix = null) =>
        new() { Bucket = bucket, Path = path, Prefix = prefix, Options = o ?? MountOptions.Default };

    private static string FirstId(MountSpec s) => SpecValidator.Validate(s).Select(e => e.ErrorId).FirstOrDefault() ?? "valid";

    [Theory]
    [InlineData("my-bucket")]
    [InlineData("a.b-c.123")]
    [InlineData("abc")]
    [InlineData("my-data--usw2-az1--x-s3")]
    [InlineData("my-data--use1-az4--x-s3")]
    [InlineData("reports-ap-abc123def456-s3alias")]
    [InlineData("arn:aws:s3:us-east-1:111122223333:accesspoint/my-ap")]
    [InlineData("arn:aws-cn:s3:cn-north-1:111122223333:accesspoint/my-ap")]
    [InlineData("arn:aws:s3::111122223333:accesspoint/mfzwi23gnjvgw.mrap")]
    [InlineData("arn:aws:s3-outposts:us-west-2:111122223333:outpost/op-01234567890abcdef/accesspoint/edge")]
    public void Valid_buckets(string bucket) => Assert.Equal("valid", FirstId(Spec(bucket: bucket)));

    [Theory]
    [InlineData("")]
    [InlineData("ab")]
    [InlineData("My-Bucket")]
    [InlineData("my_bucket")]
    [InlineData("-bucket")]
    [InlineData("bucket-")]
    [InlineData("my..bucket")]
    [InlineData("192.168.5.4")]
    [InlineData("xn--bucket")]
    [InlineData("sthree-bucket")]
    [InlineData("amzn-s3-demo-bucket")]
    [InlineData("bucket--ol-s3")]
    [InlineData("bucket.mrap")]
    [InlineData("bucket--table-s3")]
    [InlineData("Bad--usw2-az1--x-s3")]
    [InlineData("arn:aws:s3:us-east-1:1111:accesspoint/x")]
    [InlineData("arn:aws:iam::111122223333:role/x")]
    [InlineData("s3://my-bucket/x/")]
    [InlineData("a-very-long-bucket-name-that-goes-on-and-on-and-on-beyond-sixty-three")]
    [InlineData("bucket name")]
    public void Invalid_buckets(string bucket) => Assert.Equal(ErrorIds.BucketInvalid, FirstId(Spec(bucket: bucket)));

    [Fact]
    public void Bucket_with_newline_is_a_control_character_error() =>
        Assert.Equal(ErrorIds.ControlCharacter, FirstId(Spec(bucket: "my-bucket\n")));

    [Theory]
    [InlineData("relative/path")]
    [InlineData("/")]
    [InlineData("/mnt/../etc")]
    [InlineData("/mnt/./s3")]
    [InlineData("/proc/x")]
    [InlineData("/sys")]
    [InlineData("/dev/shm/x")]
    [InlineData("/run/s3")]
    [InlineData("/var/run/s3")]
    [InlineData("/boot/s3")]
    [InlineData("/etc")]
    [InlineData("/usr/local/s3")]
    [InlineData("/bin/x")]
    [InlineData("/sbin")]
    [InlineData("/lib/x")]
    [InlineData("/lib64/x")]
    [InlineData("/var/lib/s3")]
    [InlineData("/mnt/x ")]
    [InlineData("/mnt/x\\")]
    [InlineData("")]
    public void Invalid_paths(string path) =>
        Assert.Equal(ErrorIds.PathInvalid, Assert.Throws<S3MountException>(() => MountPath.Normalize(path)).ErrorId);

    [Theory]
    [InlineData("/mnt/s3/", "/mnt/s3")]
    [InlineData("//mnt//s3", "/mnt/s3")]
    [InlineData("/var/cache/x", "/var/cache/x")]
    [InlineData("/mnt/100% $HOME \"q\" 日本", "/mnt/100% $HOME \"q\" 日本")]
    [InlineData("/library/x", "/library/x")]
    public void Paths_normalise(string path, string expected) => Assert.Equal(expected, MountPath.Normalize(path));

    [Fact]
    public void Unnormalised_path_in_a_spec_is_refused() => Assert.Equal(ErrorIds.PathInvalid, FirstId(Spec(path: "/mnt/s3/")));

    [Fact]
    public void Path_with_newline_is_refused() =>
        Assert.Equal(ErrorIds.ControlCharacter, Assert.Throws<S3MountException>(() => MountPath.Normalize("/mnt/a\nb")).ErrorId);

    [Theory]
    [InlineData("logs")]
    [InlineData("/logs/")]
    [InlineData("")]
    public void Prefix_must_end_with_a_slash(string prefix) =>
        Assert.Equal(ErrorIds.PrefixInvalid, FirstId(Spec(prefix: prefix == "/logs/" ? "logs" : prefix)));

    [Fact]
    public void Uri_and_prefix_together_are_refused() =>
        Assert.Equal(ErrorIds.PrefixInvalid, Assert.Throws<S3MountException>(() => MountSpec.Create("s3://b-1/x/", "/mnt/x", "y/")).ErrorId);

    [Fact]
    public void Uri_is_split_into_bucket_and_prefix()
    {
        var s = MountSpec.Create("s3://b-1/x/y/", "/mnt/x/");
        Assert.Equal(("b-1", "x/y/", "/mnt/x"), (s.Bucket, s.Prefix, s.Path));
    }

    public static TheoryData<string, MountOptions> InvalidValues => new()
    {
        { "uid 0", new MountOptions { Uid = 0 } },
        { "gid -1", new MountOptions { Gid = -1 } },
        { "mode 1000 octal", new MountOptions { DirMode = Convert.ToInt32("1000", 8) } },
        { "file mode > 0777", new MountOptions { FileMode = 512 } },
        { "threads 0", new MountOptions { MaxThreads = 0 } },
        { "throughput 0", new MountOptions { MaximumThroughputGbps = 0 } },
        { "part size 1 byte", new MountOptions { PartSize = 1 } },
        { "write part size 6 GiB", new MountOptions { WritePartSize = 6L * 1024 * 1024 * 1024 } },
        { "memory target 100", new MountOptions { MemoryTargetMiB = 100 } },
        { "region", new MountOptions { BucketRegion = "US-EAST-1" } },
        { "endpoint not url", new MountOptions { S3EndpointUrl = "localhost:9000" } },
        { "endpoint ftp", new MountOptions { S3EndpointUrl = "ftp://x/" } },
        { "owner", new MountOptions { ExpectedBucketOwner = "12345" } },
        { "kms key id not arn", new MountOptions { Sse = ServerSideEncryption.AwsKms, SseKmsKeyId = "1234abcd" } },
        { "storage class", new MountOptions { StorageClass = "cheap" } },
        { "bind", new MountOptions { Bind = new[] { "eth0; rm -rf /" } } },
        { "ttl 0", new MountOptions { MetadataTtl = default(MetadataTtl) } },
        { "cache relative", new MountOptions { CacheDirectory = "cache" } },
        { "cache under /etc", new MountOptions { CacheDirectory = "/etc/cache" } },
        { "ca bundle relative", new MountOptions { CaBundle = "ca.pem" } },
        { "otlp interval 0", new MountOptions { OtlpEndpoint = "http://x:4318", OtlpExportInterval = 0 } },
        { "cache-xz general bucket", new MountOptions { CacheExpressBucket = "my-bucket" } },
        { "profile with space", new MountOptions { S3Profile = "my profile" } },
        { "user agent newline", new MountOptions { UserAgentPrefix = "a\nb" } },
    };

    [Theory]
    [MemberData(nameof(InvalidValues))]
    public void Invalid_values_are_refused(string why, MountOptions o)
    {
        var id = FirstId(Spec(o));
        Assert.True(id is ErrorIds.OptionInvalid or ErrorIds.ControlCharacter, $"{why}: {id}");
    }

    public static TheoryData<string, MountOptions> Conflicts => new()
    {
        { "allow-root + allow-other", new MountOptions { AllowRoot = true, AllowOther = true } },
        { "part-size + read-part-size", new MountOptions { PartSize = 8 << 20, ReadPartSize = 8 << 20 } },
        { "part-size + write-part-size", new MountOptions { PartSize = 8 << 20, WritePartSize = 8 << 20 } },
        { "no-log + log dir", new MountOptions { NoLog = true, LogDirectory = "/var/log/s3" } },
        { "no-log + debug", new MountOptions { NoLog = true, DebugLogging = true } },
        { "no-log + debug-crt", new MountOptions { NoLog = true, DebugCrt = true } },
        { "no-log + metrics", new MountOptions { NoLog = true, LogMetrics = true } },
        { "kms key without sse", new MountOptions { SseKmsKeyId = "arn:aws:kms:us-east-1:111122223333:key/k" } },
        { "kms key with AES256", new MountOptions { Sse = ServerSideEncryption.Aes256, SseKmsKeyId = "arn:aws:kms:us-east-1:111122223333:key/k" } },
        { "max cache size without cache", new MountOptions { MaxCacheSizeMiB = 100 } },
        { "otlp interval without endpoint", new MountOptions { OtlpExportInterval = 10 } },
        { "read-only + allow-delete", new MountOptions { ReadOnly = true, AllowDelete = true } },
        { "read-only + allow-overwrite", new MountOptions { ReadOnly = true, AllowOverwrite = true } },
        { "read-only + incremental-upload", new MountOptions { ReadOnly = true, IncrementalUpload = true, BucketType = BucketType.Directory } },
        { "incremental-upload on general purpose bucket", new MountOptions { IncrementalUpload = true } },
        { "foreground in a service", new MountOptions { Foreground = true } },
        { "no-sign-request + profile", new MountOptions { NoSignRequest = true, S3Profile = "p" } },
        { "cache inside the mount", new MountOptions { CacheDirectory = "/mnt/s3/cache" } },
    };

    [Theory]
    [MemberData(nameof(Conflicts))]
    public void Conflicts_are_refused(string why, MountOptions o) => Assert.True(FirstId(Spec(o)) == ErrorIds.OptionConflict, why);

    [Theory]
    [InlineData("--read-only")]
    [InlineData("--prefix=x/")]
    [InlineData("other-bucket")]
    [InlineData("/etc")]
    [InlineData("--future x")]
    [InlineData("-x")]
    [InlineData("--Upper")]
    [InlineData("--help")]
    [InlineData("--cache=/")]
    public void Extra_arguments_cannot_inject(string arg) =>
        Assert.Equal(ErrorIds.ExtraArgumentInvalid, FirstId(Spec() with { ExtraArguments = new[] { arg } }));

    [Fact]
    public void Extra_argument_for_an_unmodelled_option_is_accepted() =>
        Assert.Equal("valid", FirstId(Spec() with { ExtraArguments = new[] { "--future-flag", "--future-size=1 2" } }));

    [Theory]
    [InlineData("root")]
    [InlineData("ec2-user")]
    [InlineData("svc.hpc")]
    [InlineData("1000")]
    public void Valid_users(string user) => Assert.Equal("valid", FirstId(Spec() with { User = user }));

    [Theory]
    [InlineData("")]
    [InlineData("-rf")]
    [InlineData("a b")]
    [InlineData("root;id")]
    [InlineData("x$(id)")]
    [InlineData("99999999999")]
    public void Invalid_users(string user) => Assert.Equal(ErrorIds.UserInvalid, FirstId(Spec() with { User = user }));

    [Theory]
    [InlineData("NAME=value")]
    [InlineData("AWS_CONFIG_FILE=/etc/a b")]
    public void Valid_environment(string e) => Assert.Equal("valid", FirstId(Spec() with { Environment = new[] { e } }));

    [Theory]
    [InlineData("=x")]
    [InlineData("1A=x")]
    [InlineData("A B=x")]
    [InlineData("NOEQUALS")]
    public void Invalid_environment(string e) => Assert.Equal(ErrorIds.EnvironmentInvalid, FirstId(Spec() with { Environment = new[] { e } }));

    [Fact]
    public void Every_problem_is_reported_not_just_the_first()
    {
        var all = SpecValidator.Validate(new MountSpec { Bucket = "Bad", Path = "relative", User = "a b", Options = new MountOptions { AllowOther = true, AllowRoot = true, Uid = 0 } });
        Assert.Equal(new[] { ErrorIds.BucketInvalid, ErrorIds.PathInvalid, ErrorIds.UserInvalid, ErrorIds.OptionInvalid, ErrorIds.OptionConflict }, all.Select(e => e.ErrorId));
        Assert.All(all, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
    }
}
