using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Model;

/// <summary>How an option takes values.</summary>
public enum OptionArity
{
    /// <summary>A switch: <c>--read-only</c>.</summary>
    Flag,

    /// <summary>One value: <c>--region us-east-1</c>.</summary>
    Value,

    /// <summary>Repeatable, one value each time: <c>--bind eth0 --bind eth1</c>.</summary>
    Repeated,
}

/// <summary>One mount-s3 option: its name, the typed field it maps to, and the release that introduced it.</summary>
public sealed class OptionDescriptor
{
    internal OptionDescriptor(string name, string? shortName, string property, OptionArity arity, string since,
        Func<MountOptions, IReadOnlyList<string>?> format, Func<MountOptions, IReadOnlyList<string>, MountOptions> apply,
        Func<MountOptions, MountOptions> clear, Func<MountOptions, MountpointVersion?>? valueSince = null, IReadOnlyList<string>? words = null)
    {
        Name = name;
        ShortName = shortName;
        Property = property;
        Arity = arity;
        Since = MountpointVersion.Parse(since);
        Format = format;
        Apply = apply;
        Clear = clear;
        ValueSince = valueSince;
        Words = words ?? Array.Empty<string>();
    }

    /// <summary>The long name without dashes, e.g. <c>read-only</c>.</summary>
    public string Name { get; }

    /// <summary>The one-letter alias without its dash, e.g. <c>f</c>, or null.</summary>
    public string? ShortName { get; }

    /// <summary>The <see cref="MountOptions"/> property, which is also the cmdlet parameter name (see <see cref="Parameter"/>).</summary>
    public string Property { get; }

    /// <summary>
    /// The New-S3MountService parameter that sets the option (the property name), or null for an option that is
    /// modelled but cannot be given (<c>--foreground</c>: a service never runs in the foreground).
    /// </summary>
    public string? Parameter => Property == nameof(MountOptions.Foreground) ? null : Property;

    /// <summary>The words an enumerated option takes (<c>aws:kms</c>, <c>aws:kms:dsse</c>, <c>AES256</c>); empty for others.</summary>
    public IReadOnlyList<string> Words { get; }

    public OptionArity Arity { get; }

    /// <summary>The mount-s3 release that introduced the option.</summary>
    public MountpointVersion Since { get; }

    /// <summary>The command-line spelling with the PowerShell parameter, for messages: <c>--read-only (-ReadOnly)</c>.</summary>
    public string Display => Parameter is null ? "--" + Name : $"--{Name} (-{Parameter})";

    /// <summary>Null when the option is not set; otherwise its values (empty for a set flag).</summary>
    internal Func<MountOptions, IReadOnlyList<string>?> Format { get; }

    /// <summary>Sets the option from its command-line values (checks their form; ranges are the validator's job).</summary>
    internal Func<MountOptions, IReadOnlyList<string>, MountOptions> Apply { get; }

    /// <summary>Unsets the option (mount-s3's default applies).</summary>
    internal Func<MountOptions, MountOptions> Clear { get; }

    /// <summary>A later release some values of the option need (<c>--upload-checksums crc64nvme</c> needs 1.23).</summary>
    internal Func<MountOptions, MountpointVersion?>? ValueSince { get; }

    public bool IsSet(MountOptions options) => Format(options) is not null;

    /// <summary>Sets the option from its command-line text values (none for a flag), as a unit's ExecStart would.</summary>
    public MountOptions Set(MountOptions options, params string[] values) => Apply(options, values);

    /// <summary>The release this option, with the value it has in <paramref name="options"/>, needs.</summary>
    public MountpointVersion RequiredVersion(MountOptions options)
    {
        var v = ValueSince?.Invoke(options);
        return v is not null && v > Since ? v : Since;
    }
}

/// <summary>
/// Every mount-s3 option, in the canonical order units render them. One table drives rendering, parsing and version gating.
/// </summary>
public static class OptionCatalog
{
    private static readonly Dictionary<string, OptionDescriptor> ByName = new(StringComparer.Ordinal);

    static OptionCatalog()
    {
        All = Build();
        foreach (var d in All)
        {
            ByName.Add(d.Name, d);
            if (d.ShortName is not null)
            {
                ByName.Add(d.ShortName, d);
            }
        }
    }

    /// <summary>All options, canonical order.</summary>
    public static IReadOnlyList<OptionDescriptor> All { get; }

    /// <summary>Releases S3Mount knows of: those that brought an option, and the newest modelled release.</summary>
    public static IReadOnlyList<MountpointVersion> KnownReleases =>
        All.Select(d => d.Since).Concat(new[] { MountpointVersion.Latest, new MountpointVersion(1, 22, 2) })
            .Where(v => v <= MountpointVersion.Latest).Distinct().OrderBy(v => v).ToList();

    /// <summary>Finds an option by long name (<c>read-only</c>) or one-letter alias (<c>f</c>), without dashes.</summary>
    public static OptionDescriptor? Find(string name) => ByName.TryGetValue(name, out var d) ? d : null;

    /// <summary>The set options as command-line words, in canonical order: <c>--read-only</c>, <c>--cache</c>, <c>/mnt/c</c>, ...</summary>
    public static IReadOnlyList<string> Arguments(MountOptions options)
    {
        var words = new List<string>();
        foreach (var d in All)
        {
            var values = d.Format(options);
            if (values is null)
            {
                continue;
            }

            if (d.Arity == OptionArity.Flag)
            {
                words.Add("--" + d.Name);
                continue;
            }

            foreach (var v in values)
            {
                words.Add("--" + d.Name);
                words.Add(v);
            }
        }

        return words;
    }

    /// <summary>Finds an option by its <see cref="MountOptions"/> property name.</summary>
    public static OptionDescriptor ForProperty(string property) => All.First(d => d.Property == property);

    private static IReadOnlyList<OptionDescriptor> Build() => new List<OptionDescriptor>
    {
        // Bucket, endpoint and request shape.
        Text("region", nameof(MountOptions.BucketRegion), o => o.BucketRegion, (o, v) => o with { BucketRegion = v }),
        Text("endpoint-url", nameof(MountOptions.S3EndpointUrl), o => o.S3EndpointUrl, (o, v) => o with { S3EndpointUrl = v }),
        Flag("force-path-style", nameof(MountOptions.ForcePathStyle), o => o.ForcePathStyle, (o, v) => o with { ForcePathStyle = v }),
        Flag("transfer-acceleration", nameof(MountOptions.TransferAcceleration), o => o.TransferAcceleration, (o, v) => o with { TransferAcceleration = v }),
        Flag("dual-stack", nameof(MountOptions.DualStack), o => o.DualStack, (o, v) => o with { DualStack = v }),
        Flag("requester-pays", nameof(MountOptions.RequesterPays), o => o.RequesterPays, (o, v) => o with { RequesterPays = v }),
        Enum("bucket-type", nameof(MountOptions.BucketType), o => o.BucketType, (o, v) => o with { BucketType = v },
            new[] { (Model.BucketType.GeneralPurpose, "general-purpose"), (Model.BucketType.Directory, "directory") }),
        Text("storage-class", nameof(MountOptions.StorageClass), o => o.StorageClass, (o, v) => o with { StorageClass = v }),
        Text("expected-bucket-owner", nameof(MountOptions.ExpectedBucketOwner), o => o.ExpectedBucketOwner, (o, v) => o with { ExpectedBucketOwner = v }),
        Enum("sse", nameof(MountOptions.Sse), o => o.Sse, (o, v) => o with { Sse = v },
            new[] { (ServerSideEncryption.AwsKms, "aws:kms"), (ServerSideEncryption.AwsKmsDsse, "aws:kms:dsse"), (ServerSideEncryption.Aes256, "AES256") }),
        Text("sse-kms-key-id", nameof(MountOptions.SseKmsKeyId), o => o.SseKmsKeyId, (o, v) => o with { SseKmsKeyId = v }),
        Enum("upload-checksums", nameof(MountOptions.UploadChecksums), o => o.UploadChecksums, (o, v) => o with { UploadChecksums = v },
            new[] { (Model.UploadChecksums.Crc32c, "crc32c"), (Model.UploadChecksums.Crc64nvme, "crc64nvme"), (Model.UploadChecksums.Off, "off") },
            since: "1.7.0", valueSince: o => o.UploadChecksums == Model.UploadChecksums.Crc64nvme ? new MountpointVersion(1, 23, 0) : null),
        Flag("infer-content-type", nameof(MountOptions.InferContentType), o => o.InferContentType, (o, v) => o with { InferContentType = v }, "1.23.0"),
        Flag("no-sign-request", nameof(MountOptions.NoSignRequest), o => o.NoSignRequest, (o, v) => o with { NoSignRequest = v }),
        Text("profile", nameof(MountOptions.S3Profile), o => o.S3Profile, (o, v) => o with { S3Profile = v }),
        Text("ca-bundle", nameof(MountOptions.CaBundle), o => o.CaBundle, (o, v) => o with { CaBundle = v }, "1.23.0"),
        new("bind", null, nameof(MountOptions.Bind), OptionArity.Repeated, "1.9.0",
            o => o.Bind.Count == 0 ? null : o.Bind,
            (o, v) => o with { Bind = new ValueList<string>(o.Bind.Concat(v)) },
            o => o with { Bind = ValueList<string>.Empty }),
        Text("user-agent-prefix", nameof(MountOptions.UserAgentPrefix), o => o.UserAgentPrefix, (o, v) => o with { UserAgentPrefix = v }, "1.1.0"),

        // File system behaviour.
        Flag("read-only", nameof(MountOptions.ReadOnly), o => o.ReadOnly, (o, v) => o with { ReadOnly = v }),
        Flag("allow-delete", nameof(MountOptions.AllowDelete), o => o.AllowDelete, (o, v) => o with { AllowDelete = v }),
        Flag("allow-overwrite", nameof(MountOptions.AllowOverwrite), o => o.AllowOverwrite, (o, v) => o with { AllowOverwrite = v }, "1.4.0"),
        Flag("incremental-upload", nameof(MountOptions.IncrementalUpload), o => o.IncrementalUpload, (o, v) => o with { IncrementalUpload = v }, "1.12.0"),
        Flag("auto-unmount", nameof(MountOptions.AutoUnmount), o => o.AutoUnmount, (o, v) => o with { AutoUnmount = v }),
        Flag("allow-root", nameof(MountOptions.AllowRoot), o => o.AllowRoot, (o, v) => o with { AllowRoot = v }),
        Flag("allow-other", nameof(MountOptions.AllowOther), o => o.AllowOther, (o, v) => o with { AllowOther = v }, "1.0.1"),
        Integer("uid", nameof(MountOptions.Uid), o => o.Uid, (o, v) => o with { Uid = v }),
        Integer("gid", nameof(MountOptions.Gid), o => o.Gid, (o, v) => o with { Gid = v }),
        Mode("dir-mode", nameof(MountOptions.DirMode), o => o.DirMode, (o, v) => o with { DirMode = v }),
        Mode("file-mode", nameof(MountOptions.FileMode), o => o.FileMode, (o, v) => o with { FileMode = v }),

        // Performance.
        Integer("maximum-throughput-gbps", nameof(MountOptions.MaximumThroughputGbps), o => o.MaximumThroughputGbps, (o, v) => o with { MaximumThroughputGbps = (v is null ? null : checked((int)v.Value)) }),
        Integer("max-threads", nameof(MountOptions.MaxThreads), o => o.MaxThreads, (o, v) => o with { MaxThreads = (v is null ? null : checked((int)v.Value)) }),
        Integer("part-size", nameof(MountOptions.PartSize), o => o.PartSize, (o, v) => o with { PartSize = v }),
        Integer("read-part-size", nameof(MountOptions.ReadPartSize), o => o.ReadPartSize, (o, v) => o with { ReadPartSize = v }, "1.8.0"),
        Integer("write-part-size", nameof(MountOptions.WritePartSize), o => o.WritePartSize, (o, v) => o with { WritePartSize = v }, "1.8.0"),
        Integer("memory-target", nameof(MountOptions.MemoryTargetMiB), o => o.MemoryTargetMiB, (o, v) => o with { MemoryTargetMiB = v }, "1.24.0"),

        // Process and logging.
        Flag("foreground", nameof(MountOptions.Foreground), o => o.Foreground, (o, v) => o with { Foreground = v }, shortName: "f"),
        Text("log-directory", nameof(MountOptions.LogDirectory), o => o.LogDirectory, (o, v) => o with { LogDirectory = v }, shortName: "l"),
        Flag("log-metrics", nameof(MountOptions.LogMetrics), o => o.LogMetrics, (o, v) => o with { LogMetrics = v }),
        Text("otlp-endpoint", nameof(MountOptions.OtlpEndpoint), o => o.OtlpEndpoint, (o, v) => o with { OtlpEndpoint = v }, "1.21.0"),
        Integer("otlp-export-interval", nameof(MountOptions.OtlpExportInterval), o => o.OtlpExportInterval, (o, v) => o with { OtlpExportInterval = (v is null ? null : checked((int)v.Value)) }, "1.21.0"),
        Flag("debug", nameof(MountOptions.DebugLogging), o => o.DebugLogging, (o, v) => o with { DebugLogging = v }, shortName: "d"),
        Flag("debug-crt", nameof(MountOptions.DebugCrt), o => o.DebugCrt, (o, v) => o with { DebugCrt = v }),
        Flag("no-log", nameof(MountOptions.NoLog), o => o.NoLog, (o, v) => o with { NoLog = v }),

        // Caching.
        Text("cache", nameof(MountOptions.CacheDirectory), o => o.CacheDirectory, (o, v) => o with { CacheDirectory = v }),
        Integer("max-cache-size", nameof(MountOptions.MaxCacheSizeMiB), o => o.MaxCacheSizeMiB, (o, v) => o with { MaxCacheSizeMiB = v }),
        Ttl("metadata-ttl", nameof(MountOptions.MetadataTtl), o => o.MetadataTtl, (o, v) => o with { MetadataTtl = v }, "1.7.0"),
        Ttl("negative-metadata-ttl", nameof(MountOptions.NegativeMetadataTtl), o => o.NegativeMetadataTtl, (o, v) => o with { NegativeMetadataTtl = v }, "1.15.0"),
        Text("cache-xz", nameof(MountOptions.CacheExpressBucket), o => o.CacheExpressBucket, (o, v) => o with { CacheExpressBucket = v }, "1.11.0"),
    };

    private static OptionDescriptor Flag(string name, string property, Func<MountOptions, bool> get, Func<MountOptions, bool, MountOptions> set,
        string since = "1.0.0", string? shortName = null) =>
        new(name, shortName, property, OptionArity.Flag, since,
            o => get(o) ? Array.Empty<string>() : null,
            (o, _) => set(o, true),
            o => set(o, false));

    private static OptionDescriptor Text(string name, string property, Func<MountOptions, string?> get, Func<MountOptions, string?, MountOptions> set,
        string since = "1.0.0", string? shortName = null) =>
        new(name, shortName, property, OptionArity.Value, since,
            o => get(o) is { } v ? new[] { v } : null,
            (o, v) => set(o, v[0]),
            o => set(o, null));

    private static OptionDescriptor Integer(string name, string property, Func<MountOptions, long?> get, Func<MountOptions, long?, MountOptions> set,
        string since = "1.0.0") =>
        new(name, null, property, OptionArity.Value, since,
            o => get(o) is { } v ? new[] { v.ToString(CultureInfo.InvariantCulture) } : null,
            (o, v) =>
            {
                if (v[0].Length == 0 || v[0].Length > 19 || !long.TryParse(v[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                {
                    throw Invalid(name, property, v[0], "a whole number");
                }

                try
                {
                    return set(o, n);
                }
                catch (OverflowException)
                {
                    throw Invalid(name, property, v[0], "a smaller whole number");
                }
            },
            o => set(o, null));

    private static OptionDescriptor Mode(string name, string property, Func<MountOptions, int?> get, Func<MountOptions, int?, MountOptions> set) =>
        new(name, null, property, OptionArity.Value, "1.0.0",
            o => get(o) is { } v ? new[] { FormatMode(v) } : null,
            (o, v) =>
            {
                var t = v[0];
                if (t.Length == 0 || t.Length > 5 || t.Any(c => c < '0' || c > '7'))
                {
                    throw Invalid(name, property, t, "an octal mode such as 0755");
                }

                return set(o, Convert.ToInt32(t, 8));
            },
            o => set(o, null));

    private static OptionDescriptor Ttl(string name, string property, Func<MountOptions, MetadataTtl?> get, Func<MountOptions, MetadataTtl?, MountOptions> set, string since) =>
        new(name, null, property, OptionArity.Value, since,
            o => get(o) is { } v ? new[] { v.ToString() } : null,
            (o, v) => set(o, MetadataTtl.Parse(v[0])),
            o => set(o, null));

    private static OptionDescriptor Enum<T>(string name, string property, Func<MountOptions, T?> get, Func<MountOptions, T?, MountOptions> set,
        (T Value, string Word)[] words, string since = "1.0.0", Func<MountOptions, MountpointVersion?>? valueSince = null)
        where T : struct, System.Enum =>
        new(name, null, property, OptionArity.Value, since,
            o => get(o) is { } v ? new[] { words.First(w => w.Value.Equals(v)).Word } : null,
            (o, v) =>
            {
                foreach (var w in words)
                {
                    if (w.Word == v[0])
                    {
                        return set(o, w.Value);
                    }
                }

                throw Invalid(name, property, v[0], "one of " + string.Join(", ", words.Select(w => w.Word)));
            },
            o => set(o, null),
            valueSince,
            words.Select(w => w.Word).ToArray());

    /// <summary>Renders a mode the way mount-s3's help shows it: four octal digits, <c>0755</c>.</summary>
    public static string FormatMode(int mode) => "0" + Convert.ToString(mode, 8).PadLeft(3, '0');

    internal static S3MountException Invalid(string name, string property, string value, string expected) =>
        new(ErrorIds.OptionInvalid, S3MountErrorKind.InvalidArgument,
            $"'{value}' is not a valid value for {(property == nameof(MountOptions.Foreground) ? "--" + name : "--" + name + " (-" + property + ")")}: expected {expected}.", value);
}
