using System;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Ssm;

namespace S3Mount.Engine.Preflight;

/// <summary>What the bucket check found.</summary>
public sealed class BucketCheckResult
{
    public string Bucket { get; init; } = string.Empty;

    /// <summary>The bucket's region as S3 reports it (<c>x-amz-bucket-region</c>); null when not checked.</summary>
    public string? Region { get; init; }

    /// <summary>False for buckets this check does not read (directory buckets, multi-region and Outposts access points).</summary>
    public bool Checked { get; init; }

    /// <summary>Something the admin should know, not a refusal (the bucket is in another region than the nodes, ...).</summary>
    public string? Warning { get; init; }

    /// <summary>One line for <c>WriteVerbose</c>.</summary>
    public string Describe() => Checked
        ? "S3Mount: bucket " + Bucket + " exists" + (Region is null ? string.Empty : " in " + Region)
        : "S3Mount: bucket " + Bucket + " was not checked (" + Warning + ")";
}

/// <summary>
/// The admin-side S3 preflight of a mount, before anything is sent to a node: HeadBucket with the admin's credentials
/// (anonymous with <c>--no-sign-request</c>), addressed the way the nodes' mount-s3 will address it (its
/// <c>--region</c>, <c>--endpoint-url</c>, path style, dual-stack, acceleration, expected owner). A bucket that does not
/// exist, that the admin may not read, or that is not in the <c>--region</c> given is refused with a stable id, so a
/// typo is one error instead of a thousand failed nodes. One instance checks each distinct bucket once; New-S3MountService
/// calls it (Sync-S3MountService and Export-S3MountBootstrap do not check buckets).
/// </summary>
public sealed class BucketPreflight
{
    private readonly ResolvedAwsSettings _admin;
    private readonly Func<AWSCredentials, AmazonS3Config, IAmazonS3> _clientFactory;
    private readonly Func<string, string?> _env;
    private readonly ConcurrentDictionary<string, Task<BucketCheckResult>> _checked = new(StringComparer.Ordinal);

    /// <param name="admin">The admin's credentials and the nodes' region (the region SSM is called in).</param>
    /// <param name="clientFactory">Creates the S3 client (tests); defaults to <see cref="AmazonS3Client"/>.</param>
    /// <param name="environment">Reads environment variables (tests); defaults to the process environment.</param>
    public BucketPreflight(ResolvedAwsSettings admin, Func<AWSCredentials, AmazonS3Config, IAmazonS3>? clientFactory = null, Func<string, string?>? environment = null)
    {
        _admin = admin ?? throw new ArgumentNullException(nameof(admin));
        _clientFactory = clientFactory ?? ((c, cfg) => new AmazonS3Client(c, cfg));
        _env = environment ?? Environment.GetEnvironmentVariable;
    }

    /// <summary>Checks the bucket of <paramref name="spec"/> (once per distinct bucket and addressing); throws the refusal.</summary>
    public Task<BucketCheckResult> CheckAsync(MountSpec spec, CancellationToken cancellationToken)
    {
        if (spec is null)
        {
            throw new ArgumentNullException(nameof(spec));
        }

        var o = spec.Options;
        var key = string.Join("\n", spec.Bucket, o.BucketRegion, o.S3EndpointUrl, o.ForcePathStyle, o.DualStack, o.TransferAcceleration, o.NoSignRequest, o.ExpectedBucketOwner);
        return _checked.GetOrAdd(key, _ => CheckOnceAsync(spec, cancellationToken));
    }

    private async Task<BucketCheckResult> CheckOnceAsync(MountSpec spec, CancellationToken ct)
    {
        var o = spec.Options;
        var kind = Bucket.Classify(spec.Bucket);
        if (kind is BucketKind.Directory or BucketKind.MultiRegionAccessPointArn or BucketKind.OutpostsAccessPointArn || (o.BucketType is Model.BucketType.Directory))
        {
            return new BucketCheckResult { Bucket = spec.Bucket, Checked = false, Warning = "directory buckets and multi-region or Outposts access points are not checked here" };
        }

        var expected = o.BucketRegion ?? (kind == BucketKind.AccessPointArn ? spec.Bucket.Split(':')[3] : _admin.Region);
        var config = new AmazonS3Config
        {
            RetryMode = RequestRetryMode.Standard,
            MaxErrorRetry = 2,
            Timeout = TimeSpan.FromSeconds(20),
            ForcePathStyle = o.ForcePathStyle,
            UseDualstackEndpoint = o.DualStack,
            UseAccelerateEndpoint = o.TransferAcceleration,
        };
        // The mount's --endpoint-url, else an S3 endpoint this session configures as the AWS SDKs read it
        // (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL): set here, so the check goes where its messages say it went.
        var configured = o.S3EndpointUrl is null ? AwsSettingsResolver.ConfiguredEndpoint("S3", null, _env) : default;
        var endpoint = o.S3EndpointUrl ?? configured.Url;
        if (configured.Url is not null && !Uri.TryCreate(configured.Url, UriKind.Absolute, out _))
        {
            throw new S3MountException(ErrorIds.BucketCheckFailed, S3MountErrorKind.InvalidArgument,
                "Checking the bucket '" + spec.Bucket + "' failed: " + configured.Source + " ('" + configured.Url + "') is not an absolute URL. Correct it, or pass -SkipBucketCheck.", spec.Bucket);
        }

        if (endpoint is not null)
        {
            config.ServiceURL = endpoint;
            config.AuthenticationRegion = expected;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(expected);
        }

        AWSCredentials credentials = o.NoSignRequest ? new AnonymousAWSCredentials() : _admin.Credentials;
        var where = o.S3EndpointUrl is not null ? "at " + o.S3EndpointUrl
            : configured.Url is not null ? "in " + expected + " at " + configured.Url + " (" + configured.Source + ")"
            : "in " + expected;
        using var s3 = _clientFactory(credentials, config);
        string? actual;
        try
        {
            var head = await s3.HeadBucketAsync(new HeadBucketRequest { BucketName = spec.Bucket, ExpectedBucketOwner = o.ExpectedBucketOwner }, ct).ConfigureAwait(false);
            actual = string.IsNullOrEmpty(head.BucketRegion) ? null : head.BucketRegion;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            throw new S3MountException(ErrorIds.BucketNotFound, S3MountErrorKind.ObjectNotFound,
                "The bucket '" + spec.Bucket + "' does not exist (S3 " + where + " answered 404" + (e.ErrorCode is null ? string.Empty : " " + e.ErrorCode) + "). Check the name; nothing was sent to any node.", spec.Bucket, e);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.Forbidden)
        {
            throw new S3MountException(ErrorIds.BucketAccessDenied, S3MountErrorKind.PermissionDenied,
                "S3 refused to show the bucket '" + spec.Bucket + "' to these credentials (403" + (o.ExpectedBucketOwner is null ? string.Empty : "; or it is not owned by " + o.ExpectedBucketOwner) +
                "). The nodes use their own role; if you may not read the bucket yourself, pass -SkipBucketCheck.", spec.Bucket, e);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.MovedPermanently || e.ErrorCode is "PermanentRedirect" or "AuthorizationHeaderMalformed" or "IllegalLocationConstraintException")
        {
            // The SDK follows S3's region redirects itself; a redirect that still reaches us names no usable region.
            {
                throw new S3MountException(ErrorIds.BucketRegionMismatch, S3MountErrorKind.InvalidArgument,
                    "The bucket '" + spec.Bucket + "' is not in " + expected + " (S3 answered " + e.ErrorCode + "). Pass the bucket's region as mount-s3's --region (-BucketRegion).", spec.Bucket, e);
            }
        }
        catch (AmazonServiceException e)
        {
            throw new S3MountException(ErrorIds.BucketCheckFailed, S3MountErrorKind.InvalidOperation,
                "Checking the bucket '" + spec.Bucket + "' failed: S3 " + where + " answered " + (int)e.StatusCode + " " + e.ErrorCode + ". Pass -SkipBucketCheck to send the mount without this check.", spec.Bucket, e);
        }
        catch (Exception e) when (e is AmazonClientException || e is HttpRequestException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            throw new S3MountException(ErrorIds.BucketCheckFailed, S3MountErrorKind.ConnectionError,
                "Checking the bucket '" + spec.Bucket + "' failed: S3 " + where + " could not be reached (" + e.Message + "). Pass -SkipBucketCheck to send the mount without this check.", spec.Bucket, e);
        }

        if (actual is not null && !string.Equals(actual, expected, StringComparison.Ordinal))
        {
            if (o.BucketRegion is not null)
            {
                throw new S3MountException(ErrorIds.BucketRegionMismatch, S3MountErrorKind.InvalidArgument,
                    "The bucket '" + spec.Bucket + "' is in " + actual + ", not in " + o.BucketRegion + " as mount-s3's --region says; every node's mount would fail. Pass -BucketRegion " + actual + ".", spec.Bucket);
            }

            return new BucketCheckResult
            {
                Bucket = spec.Bucket, Region = actual, Checked = true,
                Warning = "The bucket '" + spec.Bucket + "' is in " + actual + ", the nodes in " + expected + "; consider -BucketRegion " + actual + " so mount-s3 does not depend on finding the region itself.",
            };
        }

        return new BucketCheckResult { Bucket = spec.Bucket, Region = actual ?? expected, Checked = true };
    }
}
