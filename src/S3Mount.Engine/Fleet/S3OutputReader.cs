using System;
using System.Globalization;
using System.IO;
using System.Text;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Amazon;
using Amazon.S3;
using Amazon.S3.Model;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Ssm;

namespace S3Mount.Engine.Fleet;

/// <summary>Reads SSM's full command output from the output bucket with AWSSDK.S3 GetObject.</summary>
public sealed class S3OutputReader : ISsmOutputReader, IDisposable
{
    private readonly ResolvedAwsSettings _settings;
    private readonly Uri? _serviceUrl;
    private readonly object _gate = new();
    private AmazonS3Client? _client;
    private string? _clientRegion;

    /// <param name="serviceUrl">An S3 endpoint override (tests, VPC endpoints); path-style addressing is used with it.</param>
    public S3OutputReader(ResolvedAwsSettings settings, Uri? serviceUrl = null)
    {
        _settings = settings;
        _serviceUrl = serviceUrl;
    }

    /// <summary>The key SSM writes: <c>&lt;prefix&gt;/&lt;CommandId&gt;/&lt;InstanceId&gt;/awsrunShellScript/0.awsrunShellScript/&lt;stream&gt;</c>.</summary>
    public static string OutputKey(string? prefix, string commandId, string instanceId, string stream)
    {
        var tail = commandId + "/" + instanceId + "/awsrunShellScript/0.awsrunShellScript/" + stream;
        return string.IsNullOrEmpty(prefix) ? tail : prefix!.TrimEnd('/') + "/" + tail;
    }

    public async Task<string?> ReadTextAsync(string bucket, string key, string? region, CancellationToken cancellationToken)
    {
        var client = GetClient(region ?? _settings.Region);
        var limit = ResultBlock.MaxOutputChars;
        try
        {
            // A node's output is untrusted: ask for no more than a result may be, and read no more than that either.
            using var resp = await client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key, ByteRange = new ByteRange(0, limit) }, cancellationToken).ConfigureAwait(false);
            using var reader = new StreamReader(resp.ResponseStream);
            var buffer = new char[64 * 1024];
            var text = new StringBuilder();
            int n;
            while ((n = await reader.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false)) > 0)
            {
                text.Append(buffer, 0, n);
                if (text.Length > limit)
                {
                    throw TooLarge(bucket, key);
                }
            }

            if (resp.ContentRange is string range && range.LastIndexOf('/') is var slash && slash > 0 &&
                long.TryParse(range.Substring(slash + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var total) && total > limit)
            {
                throw TooLarge(bucket, key);
            }

            return text.ToString();
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private static S3MountException TooLarge(string bucket, string key) =>
        new(SsmErrorIds.S3MountResultTooLarge, S3MountErrorKind.InvalidData,
            "The node's full output in s3://" + bucket + "/" + key + " is larger than the " + ResultBlock.MaxOutputChars.ToString("N0", CultureInfo.InvariantCulture) + " characters a result may have; it was not read.", key);

    private AmazonS3Client GetClient(string region)
    {
        lock (_gate)
        {
            if (_client is null || _clientRegion != region)
            {
                _client?.Dispose();
                var config = Install.S3Clients.Config(region, _serviceUrl?.ToString());
                _client = new AmazonS3Client(_settings.Credentials, config);
                _clientRegion = region;
            }

            return _client;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _client?.Dispose();
            _client = null;
        }
    }
}
