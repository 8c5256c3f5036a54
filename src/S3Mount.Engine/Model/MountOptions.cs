using System.Linq;

namespace S3Mount.Engine.Model;

/// <summary>
/// A typed field for every command-line option of mount-s3 1.23 (and <c>--memory-target</c> of 1.24).
/// Null or false means "not given" (mount-s3's own default applies). Property names follow PowerShell naming;
/// the option each one renders is in <see cref="OptionCatalog"/>.
/// </summary>
public sealed record MountOptions
{
    public static MountOptions Default { get; } = new();

    // Bucket and endpoint.
    public string? BucketRegion { get; init; }
    public string? S3EndpointUrl { get; init; }
    public bool ForcePathStyle { get; init; }
    public bool TransferAcceleration { get; init; }
    public bool DualStack { get; init; }
    public bool RequesterPays { get; init; }
    public BucketType? BucketType { get; init; }
    public string? StorageClass { get; init; }
    public string? ExpectedBucketOwner { get; init; }
    public ServerSideEncryption? Sse { get; init; }
    public string? SseKmsKeyId { get; init; }
    public UploadChecksums? UploadChecksums { get; init; }
    public bool InferContentType { get; init; }
    public bool NoSignRequest { get; init; }
    public string? S3Profile { get; init; }
    public string? CaBundle { get; init; }
    public ValueList<string> Bind { get; init; } = ValueList<string>.Empty;
    public string? UserAgentPrefix { get; init; }

    // File system behaviour.
    public bool ReadOnly { get; init; }
    public bool AllowDelete { get; init; }
    public bool AllowOverwrite { get; init; }
    public bool IncrementalUpload { get; init; }
    public bool AutoUnmount { get; init; }
    public bool AllowRoot { get; init; }
    public bool AllowOther { get; init; }
    public long? Uid { get; init; }
    public long? Gid { get; init; }
    public int? DirMode { get; init; }
    public int? FileMode { get; init; }

    // Performance.
    public int? MaximumThroughputGbps { get; init; }
    public int? MaxThreads { get; init; }
    public long? PartSize { get; init; }
    public long? ReadPartSize { get; init; }
    public long? WritePartSize { get; init; }
    public long? MemoryTargetMiB { get; init; }

    // Process and logging.
    public bool Foreground { get; init; }
    public string? LogDirectory { get; init; }
    public bool LogMetrics { get; init; }
    public string? OtlpEndpoint { get; init; }
    public int? OtlpExportInterval { get; init; }
    public bool DebugLogging { get; init; }
    public bool DebugCrt { get; init; }
    public bool NoLog { get; init; }

    // Caching.
    public string? CacheDirectory { get; init; }
    public long? MaxCacheSizeMiB { get; init; }
    public MetadataTtl? MetadataTtl { get; init; }
    public MetadataTtl? NegativeMetadataTtl { get; init; }
    public string? CacheExpressBucket { get; init; }

    /// <summary>The options as mount-s3 takes them (<c>--read-only --allow-other --cache /mnt/nvme/cache</c>); empty when none is set.</summary>
    public override string ToString() => string.Join(" ", OptionCatalog.Arguments(this).Select(Quote));

    private static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsLetterOrDigit(c) || "-_./:=@+%,".IndexOf(c) >= 0) ? word : "'" + word.Replace("'", "'\\''") + "'";
}
