using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Security;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Tasks;

namespace S3Mount.FakeSsm;

/// <summary>A bucket of <see cref="FakeS3Server"/>: its region, and whether the caller may read it.</summary>
public sealed class FakeBucket
{
    public FakeBucket(string name, string region)
    {
        Name = name;
        Region = region;
    }

    public string Name { get; }
    public string Region { get; }

    /// <summary>Every request answers 403 AccessDenied (an admin who may not read the bucket).</summary>
    public bool Denied { get; init; }

    /// <summary>The owner account; a request whose <c>x-amz-expected-bucket-owner</c> differs gets 403.</summary>
    public string Owner { get; init; } = "123456789012";
}

/// <summary>
/// A path-style S3 on 127.0.0.1 for the real AWSSDK.S3 code paths: HeadBucket (with <c>x-amz-bucket-region</c>, 301
/// PermanentRedirect when signed for another region, 404, 403), GetObject, PutObject. Objects of unknown buckets are
/// accepted on PUT (the fake SSM writes command output there) so tests need not create every bucket.
/// </summary>
public sealed class FakeS3Server : IOutputStore, IDisposable
{
    private static readonly Regex ScopeRegion = new("Credential=[^/]+/\\d{8}/(?<region>[a-z0-9-]+)/s3/aws4_request", RegexOptions.CultureInvariant);
    private readonly LoopbackHttpServer _http;

    public FakeS3Server() => _http = new LoopbackHttpServer(HandleAsync);

    public Uri Endpoint => _http.Endpoint;

    public ConcurrentDictionary<string, FakeBucket> Buckets { get; } = new(StringComparer.Ordinal);

    /// <summary>Objects by <c>bucket/key</c>.</summary>
    public ConcurrentDictionary<string, byte[]> Objects { get; } = new(StringComparer.Ordinal);

    /// <summary>One line per request: <c>METHOD bucket/key auth=...</c>.</summary>
    public ConcurrentQueue<string> Log { get; } = new();

    public FakeBucket AddBucket(string name, string region, bool denied = false)
    {
        var b = new FakeBucket(name, region) { Denied = denied };
        Buckets[name] = b;
        return b;
    }

    /// <summary>As the fake SSM's output store: SSM writes full command output here.</summary>
    public Task PutAsync(string bucket, string key, string content, System.Threading.CancellationToken cancellationToken)
    {
        Objects[bucket + "/" + key] = Encoding.UTF8.GetBytes(content);
        return Task.CompletedTask;
    }

    private Task<FakeHttpResponse> HandleAsync(FakeHttpRequest request)
    {
        var path = Uri.UnescapeDataString(request.Path.TrimStart('/'));
        var auth = request.Header("Authorization");
        Log.Enqueue(request.Method + " " + path + " auth=" + (auth ?? "none"));
        var slash = path.IndexOf('/');
        var bucketName = slash < 0 ? path : path.Substring(0, slash);
        var key = slash < 0 ? string.Empty : path.Substring(slash + 1);
        Buckets.TryGetValue(bucketName, out var bucket);
        if (bucket is not null && (bucket.Denied || (request.Header("x-amz-expected-bucket-owner") is string owner && owner != bucket.Owner)))
        {
            return Task.FromResult(Error(403, "AccessDenied", "Access Denied", bucket));
        }

        if (request.Method == "HEAD" && key.Length == 0)
        {
            if (bucket is null)
            {
                return Task.FromResult(Error(404, "NoSuchBucket", "The specified bucket does not exist", null));
            }

            var signedFor = auth is null ? null : ScopeRegion.Match(auth) is { Success: true } m ? m.Groups["region"].Value : null;
            if (signedFor is not null && signedFor != bucket.Region)
            {
                return Task.FromResult(Error(301, "PermanentRedirect", "The bucket you are attempting to access must be addressed using the specified endpoint.", bucket));
            }

            return Task.FromResult(new FakeHttpResponse(200, "application/xml", Array.Empty<byte>(), RegionHeader(bucket)));
        }

        if (request.Method == "PUT" && key.Length > 0)
        {
            Objects[bucketName + "/" + key] = request.Body;
            return Task.FromResult(new FakeHttpResponse(200, "application/xml", Array.Empty<byte>(), new Dictionary<string, string> { ["ETag"] = "\"fake\"" }));
        }

        if (request.Method == "GET" && key.Length > 0 && Objects.TryGetValue(bucketName + "/" + key, out var data))
        {
            return Task.FromResult(new FakeHttpResponse(200, "application/octet-stream", data));
        }

        return Task.FromResult(Error(404, bucket is null && !Objects.Keys.Any(k => k.StartsWith(bucketName + "/", StringComparison.Ordinal)) ? "NoSuchBucket" : "NoSuchKey", "Not found.", bucket));
    }

    private static Dictionary<string, string> RegionHeader(FakeBucket? bucket) =>
        bucket is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["x-amz-bucket-region"] = bucket.Region };

    private static FakeHttpResponse Error(int status, string code, string message, FakeBucket? bucket) =>
        new(status, "application/xml",
            Encoding.UTF8.GetBytes("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code + "</Code><Message>" + SecurityElement.Escape(message) + "</Message></Error>"),
            RegionHeader(bucket));

    public void Dispose() => _http.Dispose();
}
