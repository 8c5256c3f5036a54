using S3Mount.Engine.Model;

namespace S3Mount.Engine.Tests;

/// <summary>Generates valid specs with hostile-but-legal characters, seeded so failures reproduce.</summary>
public sealed class SpecGenerator
{
    private static readonly string[] Buckets =
    {
        "my-bucket", "a.b.c", "genomics-ref-2024", "abc", "my-data--usw2-az1--x-s3", "reports-ap-abc123def456-s3alias",
        "arn:aws:s3:us-east-1:111122223333:accesspoint/my-ap", "arn:aws:s3::111122223333:accesspoint/mfzwi23gnjvgw.mrap",
        "arn:aws:s3-outposts:us-west-2:111122223333:outpost/op-01234567890abcdef/accesspoint/edge",
    };

    private static readonly string[] Pieces =
    {
        "data", "s3", "with space", "100%", "%n", "%h", "$HOME", "${USER}", "$1", "it's", "say \"hi\"", "back\\slash", "naïve", "日本語", "emoji😀",
        "semi;colon", "#hash", "a=b", "tab-less", "-dash", "'quoted'", "`tick`", "$(id)", "x", "*", "?",
    };

    private readonly Random _r;

    public SpecGenerator(int seed) => _r = new Random(seed);

    private T Pick<T>(IReadOnlyList<T> items) => items[_r.Next(items.Count)];

    private bool Coin(int percent = 30) => _r.Next(100) < percent;

    public string Path()
    {
        var roots = new[] { "/mnt", "/data", "/fsx", "/home/ec2-user", "/scratch", "/srv", "/opt/x", "/tmp" };
        var segments = new List<string> { Pick(roots).TrimStart('/') };
        for (var i = _r.Next(1, 3); i > 0; i--)
        {
            segments.Add(Pick(Pieces) + (Coin(20) ? " " + Pick(Pieces) : string.Empty));
        }

        return "/" + string.Join("/", segments);
    }

    public MountSpec Next()
    {
        var bucket = Pick(Buckets);
        var o = MountOptions.Default;
        if (Coin()) o = o with { BucketRegion = Pick(new[] { "us-east-1", "eu-west-2", "us-gov-west-1", "ap-southeast-5" }) };
        if (Coin(15)) o = o with { S3EndpointUrl = "http://127.0.0.1:4568/" };
        if (Coin(15)) o = o with { ForcePathStyle = true };
        if (Coin(10)) o = o with { TransferAcceleration = true };
        if (Coin(10)) o = o with { DualStack = true };
        if (Coin(10)) o = o with { RequesterPays = true };
        if (Coin(10)) o = o with { BucketType = BucketType.GeneralPurpose };
        if (Coin(10)) o = o with { StorageClass = "INTELLIGENT_TIERING" };
        if (Coin(10)) o = o with { ExpectedBucketOwner = "111122223333" };
        if (Coin(15)) o = o with { Sse = ServerSideEncryption.AwsKms, SseKmsKeyId = Coin(50) ? "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" : null };
        if (Coin(10)) o = o with { UploadChecksums = Pick(new[] { UploadChecksums.Crc32c, UploadChecksums.Crc64nvme, UploadChecksums.Off }) };
        if (Coin(10)) o = o with { InferContentType = true };
        if (Coin(10)) o = o with { NoSignRequest = true };
        else if (Coin(10)) o = o with { S3Profile = "hpc-reader" };
        if (Coin(10)) o = o with { CaBundle = "/etc/pki/ca bundle/ca-100%.pem" };
        if (Coin(10)) o = o with { Bind = new[] { "eth0", "ens5" } };
        if (Coin(10)) o = o with { UserAgentPrefix = "S3Mount/0.1 (\"quoted\" $x %p)" };
        if (Coin(40)) o = o with { ReadOnly = true };
        else
        {
            if (Coin()) o = o with { AllowDelete = true };
            if (Coin()) o = o with { AllowOverwrite = true };
            if (Coin(10) && bucket.EndsWith("--x-s3")) o = o with { IncrementalUpload = true };
        }

        if (Coin()) o = o with { AutoUnmount = true };
        if (Coin(30)) o = o with { AllowOther = true };
        else if (Coin(20)) o = o with { AllowRoot = true };
        if (Coin()) o = o with { Uid = _r.Next(1, 70000), Gid = _r.Next(1, 70000) };
        if (Coin()) o = o with { DirMode = Convert.ToInt32("755", 8), FileMode = Convert.ToInt32("640", 8) };
        if (Coin(10)) o = o with { MaximumThroughputGbps = 100 };
        if (Coin(10)) o = o with { MaxThreads = 64 };
        if (Coin(10)) o = o with { PartSize = 16 * 1024 * 1024 };
        else if (Coin(10)) o = o with { ReadPartSize = 8 * 1024 * 1024, WritePartSize = 16 * 1024 * 1024 };
        if (Coin(5)) o = o with { MemoryTargetMiB = 2048 };
        if (Coin(10)) o = o with { LogMetrics = true };
        if (Coin(10)) o = o with { LogDirectory = "/var/log/mount s3" };
        if (Coin(10)) o = o with { DebugLogging = true };
        if (Coin(5)) o = o with { DebugCrt = true };
        if (!o.DebugLogging && !o.DebugCrt && !o.LogMetrics && o.LogDirectory is null && Coin(10)) o = o with { NoLog = true };
        if (Coin(10)) o = o with { OtlpEndpoint = "http://localhost:4318", OtlpExportInterval = Coin(50) ? 60 : null };
        if (Coin(25)) o = o with { CacheDirectory = "/var/cache/s3/" + Pick(Pieces), MaxCacheSizeMiB = Coin(50) ? 10240 : null };
        if (Coin(20)) o = o with { MetadataTtl = Pick(new[] { MetadataTtl.Indefinite, MetadataTtl.Minimal, MetadataTtl.FromSeconds(300) }) };
        if (Coin(10)) o = o with { NegativeMetadataTtl = MetadataTtl.FromSeconds(5) };
        if (Coin(5)) o = o with { CacheExpressBucket = "cache-bucket--use1-az4--x-s3" };

        return new MountSpec
        {
            Bucket = bucket,
            Prefix = Coin() ? Pick(Pieces) + "/" + (Coin() ? "sub dir/" : string.Empty) : null,
            Path = Path(),
            User = Pick(new[] { "root", "ec2-user", "ubuntu", "svc.hpc", "1001" }),
            Group = Coin() ? Pick(new[] { "hpc", "users", "2000" }) : null,
            Options = o,
            ExtraArguments = Coin(10) ? new[] { "--some-future-flag", "--future-size=12" } : Array.Empty<string>(),
            Environment = Coin(15) ? new[] { "AWS_CONFIG_FILE=/etc/s3 mount/config", "HTTPS_PROXY=http://proxy:3128", "X=$HOME %h \"q\"" } : Array.Empty<string>(),
        };
    }

    /// <summary>The next spec that passes validation (conflicts the generator can produce are skipped).</summary>
    public MountSpec NextValid()
    {
        while (true)
        {
            var s = Next();
            if (SpecValidator.Validate(s).Count == 0)
            {
                return s;
            }
        }
    }
}
