using System;
using System.Net;
using System.Text.RegularExpressions;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Model;

/// <summary>What a bucket argument names.</summary>
public enum BucketKind
{
    GeneralPurpose,
    Directory,
    AccessPointAlias,
    AccessPointArn,
    MultiRegionAccessPointArn,
    OutpostsAccessPointArn,
}

/// <summary>S3 bucket naming rules (general purpose and directory buckets), access point aliases and ARNs, and <c>s3://</c> URIs.</summary>
public static class Bucket
{
    private const string Partition = "aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc";
    private const string Region = "[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}";

    private static readonly Regex GeneralPurposeName = new("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", RegexOptions.CultureInvariant);
    private static readonly Regex DirectoryName = new("^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?--[a-z0-9]+(?:-[a-z0-9]+)*-(?:az|lz)?[0-9a-z]*--x-s3$", RegexOptions.CultureInvariant);
    private static readonly Regex AliasName = new("^[a-z0-9][a-z0-9-]{1,54}-s3alias$", RegexOptions.CultureInvariant);
    private static readonly Regex AccessPointArn = new($"^arn:(?:{Partition}):s3:{Region}:[0-9]{{12}}:accesspoint[/:][a-z0-9][a-z0-9-]{{1,48}}[a-z0-9]$", RegexOptions.CultureInvariant);
    private static readonly Regex MrapArn = new($"^arn:(?:{Partition}):s3::[0-9]{{12}}:accesspoint/[a-z0-9]+\\.mrap$", RegexOptions.CultureInvariant);
    private static readonly Regex OutpostsArn = new($"^arn:(?:{Partition}):s3-outposts:{Region}:[0-9]{{12}}:outpost/op-[0-9a-f]{{17}}/accesspoint/[a-z0-9][a-z0-9-]{{1,48}}[a-z0-9]$", RegexOptions.CultureInvariant);

    /// <summary>Classifies a bucket name or ARN, or throws <c>S3MountBucketInvalid</c> with the rule it breaks.</summary>
    public static BucketKind Classify(string? bucket)
    {
        if (string.IsNullOrEmpty(bucket))
        {
            throw Fail("The bucket is empty: give a bucket name, an access point ARN or an s3://bucket/prefix/ URI.", bucket);
        }

        TextRules.EnsureNoControl(bucket, "The bucket");
        var b = bucket!;
        if (b.StartsWith("arn:", StringComparison.Ordinal))
        {
            if (AccessPointArn.IsMatch(b))
            {
                return BucketKind.AccessPointArn;
            }

            if (MrapArn.IsMatch(b))
            {
                return BucketKind.MultiRegionAccessPointArn;
            }

            if (OutpostsArn.IsMatch(b))
            {
                return BucketKind.OutpostsAccessPointArn;
            }

            throw Fail($"'{b}' is not an S3 access point ARN. Expected arn:aws:s3:<region>:<account>:accesspoint/<name>, arn:aws:s3::<account>:accesspoint/<alias>.mrap or an Outposts access point ARN.", b);
        }

        if (b.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
        {
            throw Fail($"'{b}' is a URI: pass it through MountSpec.Create (or -Bucket) so the prefix is split off, or give the bucket name alone.", b);
        }

        if (b.Length < 3 || b.Length > 63)
        {
            throw Fail($"'{b}' is {b.Length} characters long: bucket names have 3 to 63.", b);
        }

        if (b.EndsWith("--x-s3", StringComparison.Ordinal))
        {
            if (DirectoryName.IsMatch(b))
            {
                return BucketKind.Directory;
            }

            throw Fail($"'{b}' is not a valid directory bucket name: expected <base-name>--<zone-id>--x-s3 with lowercase letters, digits and hyphens, for example my-data--usw2-az1--x-s3.", b);
        }

        if (b.EndsWith("-s3alias", StringComparison.Ordinal) && AliasName.IsMatch(b))
        {
            return BucketKind.AccessPointAlias;
        }

        if (!GeneralPurposeName.IsMatch(b))
        {
            throw Fail($"'{b}' is not a valid bucket name: use lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit.", b);
        }

        if (b.Contains(".."))
        {
            throw Fail($"'{b}' is not a valid bucket name: it has two adjacent dots.", b);
        }

        if (IPAddress.TryParse(b, out _) && Regex.IsMatch(b, "^[0-9.]+$"))
        {
            throw Fail($"'{b}' is not a valid bucket name: bucket names may not look like an IP address.", b);
        }

        foreach (var p in new[] { "xn--", "sthree-", "amzn-s3-demo-" })
        {
            if (b.StartsWith(p, StringComparison.Ordinal))
            {
                throw Fail($"'{b}' is not a valid bucket name: names may not start with '{p}'.", b);
            }
        }

        foreach (var s in new[] { "-s3alias", "--ol-s3", ".mrap", "--table-s3", "--x-s3" })
        {
            if (b.EndsWith(s, StringComparison.Ordinal))
            {
                throw Fail($"'{b}' is not a valid bucket name: names may not end with '{s}'.", b);
            }
        }

        return BucketKind.GeneralPurpose;
    }

    /// <summary>True when S3 treats the bucket as an S3 Express One Zone directory bucket.</summary>
    public static bool IsDirectory(string bucket, BucketType? explicitType) =>
        explicitType == BucketType.Directory || (explicitType is null && bucket.EndsWith("--x-s3", StringComparison.Ordinal));

    /// <summary>
    /// Splits <c>s3://bucket/prefix/</c> into bucket and prefix; a plain name or ARN passes through with a null prefix.
    /// </summary>
    public static (string Bucket, string? Prefix) SplitUri(string bucketOrUri)
    {
        if (bucketOrUri is null || !bucketOrUri.StartsWith("s3://", StringComparison.OrdinalIgnoreCase))
        {
            return (bucketOrUri!, null);
        }

        var rest = bucketOrUri.Substring(5);
        var slash = rest.IndexOf('/');
        if (slash < 0)
        {
            return (rest, null);
        }

        var prefix = rest.Substring(slash + 1);
        return (rest.Substring(0, slash), prefix.Length == 0 ? null : prefix);
    }

    private static S3MountException Fail(string message, string? value) =>
        new(ErrorIds.BucketInvalid, S3MountErrorKind.InvalidArgument, message, value);
}
