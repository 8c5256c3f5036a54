using System;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Install;

/// <summary>
/// The admin side of an <c>s3://</c> package source: turns the package and its <c>.asc</c> into short-lived presigned
/// HTTPS GET URLs with the admin's credentials, so nodes download them with curl and need no S3 permission.
/// Presigning is local (no request is sent); the URLs work until they expire.
/// </summary>
public sealed class S3PackagePresigner
{
    /// <summary>How long presigned URLs live by default: long enough for a slow fleet rollout, short for a leaked command.</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromMinutes(30);

    private readonly AWSCredentials _credentials;
    private readonly RegionEndpoint _region;
    private readonly string? _serviceUrl;

    /// <param name="credentials">The admin's credentials (they sign the URLs; the node never sees them).</param>
    /// <param name="region">The bucket's region.</param>
    /// <param name="serviceUrl">An S3-compatible endpoint (path-style), for tests; null for AWS.</param>
    public S3PackagePresigner(AWSCredentials credentials, RegionEndpoint region, string? serviceUrl = null)
    {
        _credentials = credentials ?? throw new ArgumentNullException(nameof(credentials));
        _region = region ?? throw new ArgumentNullException(nameof(region));
        _serviceUrl = serviceUrl;
    }

    /// <summary>
    /// Sets <see cref="InstallRequest.PackageUrl"/> and <see cref="InstallRequest.SignatureUrl"/> of an S3 request to
    /// presigned URLs of <c>key</c> and <c>key.asc</c>; returns the same request.
    /// </summary>
    public InstallRequest Presign(InstallRequest request, TimeSpan? lifetime = null)
    {
        if (request is null)
        {
            throw new ArgumentNullException(nameof(request));
        }

        if (request.Source != PackageSourceKind.S3)
        {
            throw new S3MountException(InstallErrorIds.SourceInvalid, S3MountErrorKind.InvalidArgument, "Only an s3:// package source is presigned.", request.Source);
        }

        var (bucket, key) = ParseS3Uri(request.S3Uri);
        var life = lifetime ?? DefaultLifetime;
        request.PackageUrl = PresignGet(bucket, key, life);
        request.SignatureUrl = request.SkipSignatureCheck ? null : PresignGet(bucket, key + ".asc", life);
        return request;
    }

    /// <summary>A presigned GET URL of one object.</summary>
    public string PresignGet(string bucket, string key, TimeSpan lifetime)
    {
        if (lifetime <= TimeSpan.Zero || lifetime > TimeSpan.FromDays(7))
        {
            throw new S3MountException(ErrorIds.OptionInvalid, S3MountErrorKind.InvalidArgument, "A presigned URL lives more than 0 and at most 7 days.", lifetime);
        }

        var config = S3Clients.Config(_region.SystemName, _serviceUrl);

        try
        {
            using var client = new AmazonS3Client(_credentials, config);
            return client.GetPreSignedURL(new GetPreSignedUrlRequest
            {
                BucketName = bucket,
                Key = key,
                Verb = HttpVerb.GET,
                Expires = DateTime.UtcNow.Add(lifetime),
                Protocol = _serviceUrl is not null && _serviceUrl.StartsWith("http://", StringComparison.Ordinal) ? Protocol.HTTP : Protocol.HTTPS,
            });
        }
        catch (AmazonClientException e)
        {
            throw new S3MountException(InstallErrorIds.PresignFailed, S3MountErrorKind.InvalidOperation,
                $"Could not presign s3://{bucket}/{key}: {e.Message} Check the AWS credentials and region.", $"s3://{bucket}/{key}", e);
        }
    }

    /// <summary>Splits <c>s3://bucket/key</c>; the key may not be empty or end with <c>/</c>.</summary>
    public static (string Bucket, string Key) ParseS3Uri(string? uri)
    {
        const string scheme = "s3://";
        if (uri is not null && uri.StartsWith(scheme, StringComparison.Ordinal))
        {
            var rest = uri.Substring(scheme.Length);
            var slash = rest.IndexOf('/');
            if (slash > 0 && slash < rest.Length - 1 && !rest.EndsWith("/", StringComparison.Ordinal))
            {
                var bucket = rest.Substring(0, slash);
                var key = rest.Substring(slash + 1);
                if (System.Text.RegularExpressions.Regex.IsMatch(bucket, "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$") && key.IndexOf('\n') < 0 && key.IndexOf('\r') < 0)
                {
                    return (bucket, key);
                }
            }
        }

        throw new S3MountException(InstallErrorIds.SourceInvalid, S3MountErrorKind.InvalidArgument,
            $"'{uri}' is not an S3 object URI: give s3://bucket/path/to/mount-s3.deb (its signature is expected at the same key plus .asc).", uri);
    }
}
