using S3Mount.Engine.Errors;
using S3Mount.Engine.Units;

namespace S3Mount.Engine.Model;

/// <summary>
/// Everything that defines one persistent mount: what is mounted (bucket, prefix), where (path), as whom
/// (user, group), with which mount-s3 options, plus extra arguments and environment for what is not modelled.
/// Immutable; compare with <c>==</c> (value equality). Validate with <see cref="SpecValidator"/>.
/// </summary>
public sealed record MountSpec
{
    /// <summary>A bucket name, access point alias or access point ARN (never a URI; see <see cref="Create"/>).</summary>
    public string Bucket { get; init; } = string.Empty;

    /// <summary>The key prefix to mount, ending with <c>/</c>, or null for the whole bucket.</summary>
    public string? Prefix { get; init; }

    /// <summary>The absolute, normalised mount directory.</summary>
    public string Path { get; init; } = string.Empty;

    /// <summary>The user the service runs as (<c>User=</c>); root unless given.</summary>
    public string User { get; init; } = "root";

    /// <summary>The group the service runs as (<c>Group=</c>); null means the user's primary group.</summary>
    public string? Group { get; init; }

    public MountOptions Options { get; init; } = MountOptions.Default;

    /// <summary>mount-s3 options S3Mount does not model, each as <c>--name</c> or <c>--name=value</c>, rendered after the modelled ones.</summary>
    public ValueList<string> ExtraArguments { get; init; } = ValueList<string>.Empty;

    /// <summary>Environment for the service, each <c>NAME=value</c> (for example <c>AWS_CONFIG_FILE=/etc/s3/config</c> or proxies).</summary>
    public ValueList<string> Environment { get; init; } = ValueList<string>.Empty;

    /// <summary>
    /// Seconds between health checks of the mount (its <c>s3mount-health-&lt;id&gt;.timer</c>), which restart the service
    /// when the mount is Stale, Hung or missing while the service is active; 0: no health check. Recorded in the unit as
    /// <c>X-S3Mount-HealthCheck=</c>; a unit without it (the field recipe's, S3Mount's format 1) reads back as 0.
    /// </summary>
    public int HealthCheckIntervalSeconds { get; init; } = Units.HealthUnits.DefaultIntervalSeconds;

    /// <summary>The unit name, <c>mountpoint-s3-&lt;8 hex&gt;.service</c>, the same the field recipe gives the same bucket and path.</summary>
    public string UnitName => UnitNames.For(Bucket, Path);

    /// <summary>
    /// Builds a spec from what a user types: <paramref name="bucketOrUri"/> may be <c>s3://bucket/prefix/</c>
    /// (then <paramref name="prefix"/> must be null); the path is normalised (repeated and trailing slashes dropped).
    /// Throws on a malformed bucket, prefix or path; call <see cref="SpecValidator.EnsureValid"/> for the option rules.
    /// </summary>
    public static MountSpec Create(string bucketOrUri, string path, string? prefix = null, MountOptions? options = null, string? user = null, string? group = null)
    {
        TextRules.EnsureNoControl(bucketOrUri, "The bucket");
        var (bucket, uriPrefix) = Model.Bucket.SplitUri(bucketOrUri);
        if (uriPrefix is not null && prefix is not null)
        {
            throw new S3MountException(ErrorIds.PrefixInvalid, S3MountErrorKind.InvalidArgument,
                $"The bucket URI '{bucketOrUri}' already holds the prefix '{uriPrefix}'; do not also give -Prefix '{prefix}'.", prefix);
        }

        return new MountSpec
        {
            Bucket = bucket,
            Prefix = uriPrefix ?? prefix,
            Path = MountPath.Normalize(path),
            User = string.IsNullOrEmpty(user) ? "root" : user!,
            Group = string.IsNullOrEmpty(group) ? null : group,
            Options = options ?? MountOptions.Default,
        };
    }

    /// <summary><c>s3://bucket/prefix/</c> for display.</summary>
    public string Uri => "s3://" + Bucket + "/" + (Prefix ?? string.Empty);
}
