using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Model;

/// <summary>
/// Validates a <see cref="MountSpec"/> like mount-s3 does, and earlier, and stricter where mount-s3 accepts a contradiction.
/// Every refusal is an <see cref="S3MountException"/> with a stable id and a message that says what to do.
/// </summary>
public static class SpecValidator
{
    internal static readonly Regex RegionPattern = new("^[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}$", RegexOptions.CultureInvariant);
    private static readonly Regex AccountPattern = new("^[0-9]{12}$", RegexOptions.CultureInvariant);
    internal static readonly Regex KmsKeyArnPattern = new("^arn:aws[a-z-]*:kms:[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:(?:key|alias)/[A-Za-z0-9/_+=,.@-]+$", RegexOptions.CultureInvariant);
    private static readonly Regex StorageClassPattern = new("^[A-Z][A-Z0-9_]{1,40}$", RegexOptions.CultureInvariant);
    private static readonly Regex NicPattern = new("^[A-Za-z0-9_.:@-]{1,15}$", RegexOptions.CultureInvariant);
    private static readonly Regex UserPattern = new("^(?:[A-Za-z_][A-Za-z0-9_.-]{0,31}|[0-9]{1,10})$", RegexOptions.CultureInvariant);
    private static readonly Regex ProfilePattern = new("^[A-Za-z0-9_.@+:/-]{1,128}$", RegexOptions.CultureInvariant);
    private static readonly Regex EnvPattern = new("^[A-Za-z_][A-Za-z0-9_]{0,127}=", RegexOptions.CultureInvariant);
    private static readonly Regex ExtraPattern = new("^--(?<name>[a-z][a-z0-9-]{0,62})(?:=(?<value>.*))?$", RegexOptions.CultureInvariant | RegexOptions.Singleline);

    private const long MiB = 1024 * 1024;
    private const long MaxPart = 5L * 1024 * MiB;

    /// <summary>Throws the first problem, if any. With <paramref name="nodeVersion"/>, also refuses options that release lacks.</summary>
    public static void EnsureValid(MountSpec spec, MountpointVersion? nodeVersion = null)
    {
        var problems = Validate(spec, nodeVersion);
        if (problems.Count > 0)
        {
            throw problems[0];
        }
    }

    /// <summary>Every problem with the spec, most basic first (bucket, path, user, then options, then version).</summary>
    public static IReadOnlyList<S3MountException> Validate(MountSpec spec, MountpointVersion? nodeVersion = null)
    {
        var problems = new List<S3MountException>();
        void Check(Action a)
        {
            try
            {
                a();
            }
            catch (S3MountException e)
            {
                problems.Add(e);
            }
        }

        var kind = BucketKind.GeneralPurpose;
        Check(() => kind = Bucket.Classify(spec.Bucket));
        Check(() => CheckPrefix(spec.Prefix));
        Check(() =>
        {
            var normal = MountPath.Normalize(spec.Path);
            if (normal != spec.Path)
            {
                throw new S3MountException(ErrorIds.PathInvalid, S3MountErrorKind.InvalidArgument,
                    $"The mount path '{spec.Path}' is not normalised; use '{normal}'.", spec.Path);
            }
        });
        Check(() => CheckPrincipal(spec.User, "user", required: true));
        Check(() => CheckPrincipal(spec.Group, "group", required: false));
        foreach (var e in spec.Environment)
        {
            Check(() => CheckEnvironment(e));
        }

        var o = spec.Options;
        foreach (var p in CheckValues(o, spec))
        {
            problems.Add(p);
        }

        foreach (var p in CheckConflicts(o, spec, kind))
        {
            problems.Add(p);
        }

        foreach (var a in spec.ExtraArguments)
        {
            Check(() => CheckExtraArgument(a));
        }

        Check(() => CheckHealthInterval(spec.HealthCheckIntervalSeconds));

        if (nodeVersion is not null && problems.Count == 0)
        {
            problems.AddRange(CheckVersion(spec, nodeVersion));
        }

        return problems;
    }

    /// <summary>Options the given mount-s3 release does not support, as <c>S3MountOptionUnsupported</c> errors.</summary>
    public static IEnumerable<S3MountException> CheckVersion(MountSpec spec, MountpointVersion nodeVersion)
    {
        foreach (var d in OptionCatalog.All)
        {
            if (d.IsSet(spec.Options))
            {
                var need = d.RequiredVersion(spec.Options);
                if (need > nodeVersion)
                {
                    var value = d.Format(spec.Options) is { Count: > 0 } v ? " " + v[0] : string.Empty;
                    yield return new S3MountException(ErrorIds.OptionUnsupported, S3MountErrorKind.NotImplemented,
                        $"--{d.Name}{value} (-{d.Property}) needs mount-s3 {need.Core} or later; the node has {nodeVersion}. Upgrade with Install-MountpointS3 -Version {need.Core} (or later), or leave the option out.",
                        d.Name);
                }
            }
        }
    }

    private static void CheckHealthInterval(int seconds)
    {
        if (seconds != 0 && (seconds < Units.HealthUnits.MinimumIntervalSeconds || seconds > Units.HealthUnits.MaximumIntervalSeconds))
        {
            throw new S3MountException(ErrorIds.OptionInvalid, S3MountErrorKind.InvalidArgument,
                $"A health check every {seconds} s is out of range: give {Units.HealthUnits.MinimumIntervalSeconds} to {Units.HealthUnits.MaximumIntervalSeconds} seconds (one check of a hung mount takes up to about 17 s), or 0 for no health check.",
                seconds);
        }
    }

    private static void CheckPrefix(string? prefix)
    {
        if (prefix is null)
        {
            return;
        }

        TextRules.EnsureNoControl(prefix, "The prefix");
        if (prefix.Length == 0 || !prefix.EndsWith("/", StringComparison.Ordinal))
        {
            throw new S3MountException(ErrorIds.PrefixInvalid, S3MountErrorKind.InvalidArgument,
                $"The prefix '{prefix}' must end with '/' (mount-s3 mounts a directory-like prefix), for example '{prefix}/'.", prefix);
        }

        if (Encoding.UTF8.GetByteCount(prefix) > 1024)
        {
            throw new S3MountException(ErrorIds.PrefixInvalid, S3MountErrorKind.InvalidArgument, "The prefix is longer than S3's 1024-byte key limit.", prefix);
        }
    }

    private static void CheckPrincipal(string? name, string what, bool required)
    {
        if (name is null && !required)
        {
            return;
        }

        TextRules.EnsureNoControl(name, "The " + what);
        if (string.IsNullOrEmpty(name) || !UserPattern.IsMatch(name!) || (name!.All(char.IsDigit) && (name!.Length > 10 || long.Parse(name!) > 4294967294L)))
        {
            throw new S3MountException(ErrorIds.UserInvalid, S3MountErrorKind.InvalidArgument,
                $"'{name}' is not a valid {what} name: use a POSIX name (letters, digits, '_', '.', '-', at most 32, not starting with a digit or '-') or a numeric id.", name);
        }
    }

    private static void CheckEnvironment(string entry)
    {
        TextRules.EnsureNoControl(entry, "The environment entry");
        if (!EnvPattern.IsMatch(entry))
        {
            throw new S3MountException(ErrorIds.EnvironmentInvalid, S3MountErrorKind.InvalidArgument,
                $"'{entry}' is not an environment entry: use NAME=value with NAME made of letters, digits and '_'.", entry);
        }
    }

    private static void CheckExtraArgument(string arg)
    {
        TextRules.EnsureNoControl(arg, "The extra argument");
        var m = ExtraPattern.Match(arg);
        if (!m.Success)
        {
            throw new S3MountException(ErrorIds.ExtraArgumentInvalid, S3MountErrorKind.InvalidArgument,
                $"The extra argument '{arg}' is not an option: each extra argument must be --name or --name=value (values joined with '='), so nothing can be injected as a bucket or path.", arg);
        }

        var name = m.Groups["name"].Value;
        var known = OptionCatalog.Find(name);
        if (known is not null || name == "prefix")
        {
            if (known is not null && known.Parameter is null)
            {
                throw new S3MountException(ErrorIds.ExtraArgumentInvalid, S3MountErrorKind.InvalidArgument,
                    $"--{name} cannot be used in a service, not even as -ExtraArgument: the unit waits for mount-s3 to daemonize once the mount is ready.", arg);
            }

            var param = known?.Parameter ?? "Prefix";
            throw new S3MountException(ErrorIds.ExtraArgumentInvalid, S3MountErrorKind.InvalidArgument,
                $"--{name} is modelled by S3Mount: use -{param} instead of -ExtraArgument, so it is validated and listed.", arg);
        }

        if (name is "help" or "version")
        {
            throw new S3MountException(ErrorIds.ExtraArgumentInvalid, S3MountErrorKind.InvalidArgument,
                $"--{name} does not mount anything and cannot be part of a service.", arg);
        }
    }

    private static IEnumerable<S3MountException> CheckValues(MountOptions o, MountSpec spec)
    {
        var list = new List<S3MountException>();
        void Add(string property, string value, string rule) =>
            list.Add(new S3MountException(ErrorIds.OptionInvalid, S3MountErrorKind.InvalidArgument,
                $"'{value}' is not a valid value for {OptionCatalog.ForProperty(property).Display}: {rule}.", value));

        void Text(string property, string? value, Regex? pattern, string rule)
        {
            if (value is null)
            {
                return;
            }

            if (TextRules.HasControlCharacter(value))
            {
                list.Add(new S3MountException(ErrorIds.ControlCharacter, S3MountErrorKind.InvalidArgument,
                    $"The value of {OptionCatalog.ForProperty(property).Display} contains a control character: '{TextRules.Visible(value)}'.", value));
                return;
            }

            if (value.Length == 0 || (pattern is not null && !pattern.IsMatch(value)))
            {
                Add(property, value, rule);
            }
        }

        void Range(string property, long? value, long min, long max, string rule)
        {
            if (value is { } v && (v < min || v > max))
            {
                Add(property, v.ToString(System.Globalization.CultureInfo.InvariantCulture), rule);
            }
        }

        void Url(string property, string? value)
        {
            Text(property, value, null, "expected an absolute http:// or https:// URL");
            if (value is not null && !TextRules.HasControlCharacter(value) && value.Length > 0 &&
                (!Uri.TryCreate(value, UriKind.Absolute, out var u) || (u.Scheme != "http" && u.Scheme != "https") || value.Contains(' ')))
            {
                Add(property, value, "expected an absolute http:// or https:// URL");
            }
        }

        void Dir(string property, string? value, bool refuseSystem)
        {
            if (value is null)
            {
                return;
            }

            try
            {
                if (MountPath.NormalizeAbsolute(value, OptionCatalog.ForProperty(property).Display, ErrorIds.OptionInvalid, refuseSystem) != value)
                {
                    Add(property, value, "give the path normalised (no repeated or trailing slash)");
                }
            }
            catch (S3MountException e)
            {
                list.Add(e);
            }
        }

        Text(nameof(MountOptions.BucketRegion), o.BucketRegion, RegionPattern, "expected an AWS Region code such as us-east-1");
        Url(nameof(MountOptions.S3EndpointUrl), o.S3EndpointUrl);
        Text(nameof(MountOptions.StorageClass), o.StorageClass, StorageClassPattern, "expected an S3 storage class such as STANDARD, INTELLIGENT_TIERING or EXPRESS_ONEZONE");
        Text(nameof(MountOptions.ExpectedBucketOwner), o.ExpectedBucketOwner, AccountPattern, "expected a 12-digit AWS account id");
        Text(nameof(MountOptions.SseKmsKeyId), o.SseKmsKeyId, KmsKeyArnPattern, "expected a KMS key ARN such as arn:aws:kms:us-east-1:111122223333:key/<key-id>");
        Text(nameof(MountOptions.S3Profile), o.S3Profile, ProfilePattern, "expected a profile name of letters, digits and _.@+:/-");
        Dir(nameof(MountOptions.CaBundle), o.CaBundle, refuseSystem: false);
        foreach (var nic in o.Bind)
        {
            Text(nameof(MountOptions.Bind), nic, NicPattern, "expected a network interface name such as eth0 or ens5");
        }

        Text(nameof(MountOptions.UserAgentPrefix), o.UserAgentPrefix, new Regex("^[\\x21-\\x7e][\\x20-\\x7e]{0,199}$"), "expected printable ASCII (at most 200 characters)");
        Range(nameof(MountOptions.Uid), o.Uid, 1, 4294967294, "expected a user id of 1 or more");
        Range(nameof(MountOptions.Gid), o.Gid, 1, 4294967294, "expected a group id of 1 or more");
        Range(nameof(MountOptions.DirMode), o.DirMode, 0, Convert.ToInt32("777", 8), "expected an octal mode of at most 0777");
        Range(nameof(MountOptions.FileMode), o.FileMode, 0, Convert.ToInt32("777", 8), "expected an octal mode of at most 0777");
        Range(nameof(MountOptions.MaximumThroughputGbps), o.MaximumThroughputGbps, 1, 10000, "expected a whole number of Gbit/s of 1 or more");
        Range(nameof(MountOptions.MaxThreads), o.MaxThreads, 1, 4096, "expected a thread count of 1 or more");
        Range(nameof(MountOptions.PartSize), o.PartSize, 5 * MiB, MaxPart, "expected a size in bytes from 5 MiB (5242880) to 5 GiB");
        Range(nameof(MountOptions.ReadPartSize), o.ReadPartSize, 1 * MiB, MaxPart, "expected a size in bytes from 1 MiB (1048576) to 5 GiB");
        Range(nameof(MountOptions.WritePartSize), o.WritePartSize, 5 * MiB, MaxPart, "expected a size in bytes from 5 MiB (5242880) to 5 GiB");
        Range(nameof(MountOptions.MemoryTargetMiB), o.MemoryTargetMiB, 512, long.MaxValue, "expected at least 512 MiB");
        Dir(nameof(MountOptions.LogDirectory), o.LogDirectory, refuseSystem: false);
        Url(nameof(MountOptions.OtlpEndpoint), o.OtlpEndpoint);
        Range(nameof(MountOptions.OtlpExportInterval), o.OtlpExportInterval, 1, 86400, "expected a number of seconds of 1 or more");
        Dir(nameof(MountOptions.CacheDirectory), o.CacheDirectory, refuseSystem: true);
        Range(nameof(MountOptions.MaxCacheSizeMiB), o.MaxCacheSizeMiB, 1, long.MaxValue, "expected a size in MiB of 1 or more");
        foreach (var (p, ttl) in new[] { (nameof(MountOptions.MetadataTtl), o.MetadataTtl), (nameof(MountOptions.NegativeMetadataTtl), o.NegativeMetadataTtl) })
        {
            if (ttl is { Kind: MetadataTtlKind.Seconds, Seconds: < 1 })
            {
                Add(p, ttl.Value.Seconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "0 is deprecated by mount-s3; use 'minimal', 'indefinite' or a number of seconds of 1 or more");
            }
        }

        if (o.CacheExpressBucket is not null)
        {
            try
            {
                if (Bucket.Classify(o.CacheExpressBucket) != BucketKind.Directory)
                {
                    Add(nameof(MountOptions.CacheExpressBucket), o.CacheExpressBucket, "expected an S3 Express One Zone directory bucket name (<base>--<zone-id>--x-s3), with no prefix");
                }
            }
            catch (S3MountException)
            {
                Add(nameof(MountOptions.CacheExpressBucket), o.CacheExpressBucket, "expected an S3 Express One Zone directory bucket name (<base>--<zone-id>--x-s3), with no prefix");
            }
        }

        if (o.CacheDirectory is not null && spec.Path.Length > 0 && (MountPath.IsAtOrUnder(o.CacheDirectory, spec.Path) || MountPath.IsAtOrUnder(spec.Path, o.CacheDirectory)))
        {
            list.Add(new S3MountException(ErrorIds.OptionConflict, S3MountErrorKind.InvalidArgument,
                $"The cache directory '{o.CacheDirectory}' and the mount path '{spec.Path}' contain one another; mount-s3 wipes its cache directory, so keep them apart.", o.CacheDirectory));
        }

        return list;
    }

    private static IEnumerable<S3MountException> CheckConflicts(MountOptions o, MountSpec spec, BucketKind kind)
    {
        var list = new List<S3MountException>();
        void Conflict(string message) => list.Add(new S3MountException(ErrorIds.OptionConflict, S3MountErrorKind.InvalidArgument, message, spec));

        if (o.Foreground)
        {
            Conflict("--foreground cannot be used in a service: the unit is Type=forking and waits for mount-s3 to daemonize once the mount is ready.");
        }

        if (o.AllowRoot && o.AllowOther)
        {
            Conflict("--allow-root (-AllowRoot) and --allow-other (-AllowOther) exclude each other: -AllowOther already lets root in; choose one.");
        }

        if (o.PartSize is not null && (o.ReadPartSize is not null || o.WritePartSize is not null))
        {
            Conflict("--part-size (-PartSize) sets both read and write part sizes; do not combine it with --read-part-size or --write-part-size.");
        }

        if (o.NoLog)
        {
            var with = new[] { (o.LogDirectory is not null, nameof(MountOptions.LogDirectory)), (o.DebugLogging, nameof(MountOptions.DebugLogging)), (o.DebugCrt, nameof(MountOptions.DebugCrt)), (o.LogMetrics, nameof(MountOptions.LogMetrics)) }
                .Where(x => x.Item1).Select(x => OptionCatalog.ForProperty(x.Item2).Display).ToList();
            if (with.Count > 0)
            {
                Conflict($"--no-log (-NoLog) turns logging off, so it cannot be combined with {string.Join(", ", with)}.");
            }
        }

        if (o.SseKmsKeyId is not null && o.Sse is null)
        {
            Conflict("--sse-kms-key-id (-SseKmsKeyId) needs --sse aws:kms or --sse aws:kms:dsse (-Sse aws:kms or -Sse aws:kms:dsse).");
        }

        if (o.SseKmsKeyId is not null && o.Sse == ServerSideEncryption.Aes256)
        {
            Conflict("--sse-kms-key-id (-SseKmsKeyId) cannot be used with --sse AES256: a KMS key needs --sse aws:kms or aws:kms:dsse.");
        }

        if (o.MaxCacheSizeMiB is not null && o.CacheDirectory is null)
        {
            Conflict("--max-cache-size (-MaxCacheSizeMiB) needs --cache (-CacheDirectory).");
        }

        if (o.OtlpExportInterval is not null && o.OtlpEndpoint is null)
        {
            Conflict("--otlp-export-interval (-OtlpExportInterval) needs --otlp-endpoint (-OtlpEndpoint).");
        }

        if (o.ReadOnly)
        {
            var with = new[] { (o.AllowDelete, nameof(MountOptions.AllowDelete)), (o.AllowOverwrite, nameof(MountOptions.AllowOverwrite)), (o.IncrementalUpload, nameof(MountOptions.IncrementalUpload)) }
                .Where(x => x.Item1).Select(x => OptionCatalog.ForProperty(x.Item2).Display).ToList();
            if (with.Count > 0)
            {
                Conflict($"--read-only (-ReadOnly) contradicts {string.Join(", ", with)}: mount-s3 would accept it and silently ignore the write permission. Choose one.");
            }
        }

        if (o.IncrementalUpload && spec.Bucket.Length > 0 && !Bucket.IsDirectory(spec.Bucket, o.BucketType))
        {
            Conflict("--incremental-upload (-IncrementalUpload) appends to objects and works only with S3 Express One Zone directory buckets (<base>--<zone-id>--x-s3, or -BucketType directory).");
        }

        if (o.NoSignRequest && o.S3Profile is not null)
        {
            Conflict("--no-sign-request (-NoSignRequest) loads no credentials, so --profile (-S3Profile) would be ignored; choose one.");
        }

        return list;
    }
}
