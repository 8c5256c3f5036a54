using System;
using System.IO;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using Amazon;
using Amazon.S3;
using Amazon.S3.Model;
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
        try
        {
            using var resp = await client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key }, cancellationToken).ConfigureAwait(false);
            using var reader = new StreamReader(resp.ResponseStream);
            return await reader.ReadToEndAsync().ConfigureAwait(false);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

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
