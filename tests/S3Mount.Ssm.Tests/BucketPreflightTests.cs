using System;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;
using S3Mount.Engine.Preflight;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;

namespace S3Mount.Ssm.Tests;

/// <summary>The admin-side bucket check, with the real AWSSDK.S3 against the fake S3, addressed as the nodes' mount-s3 would.</summary>
public sealed class BucketPreflightTests : IDisposable
{
    private readonly FakeS3Server _s3 = new();

    public BucketPreflightTests()
    {
        _s3.AddBucket("genomics-ref", "us-east-1");
        _s3.AddBucket("eu-results", "eu-west-1");
        _s3.AddBucket("locked", "us-east-1", denied: true);
    }

    public void Dispose() => _s3.Dispose();

    private MountSpec Spec(string bucket, string? region = null, bool noSign = false, string? owner = null) =>
        MountSpec.Create(bucket, "/mnt/s3", options: new MountOptions { S3EndpointUrl = _s3.Endpoint.ToString().TrimEnd('/'), ForcePathStyle = true, BucketRegion = region, NoSignRequest = noSign, ExpectedBucketOwner = owner });

    private static BucketPreflight Check(string nodeRegion = "us-east-1", Func<string, string?>? env = null) =>
        new(ResolvedAwsSettings.FromKeys(Ssm.AccessKey, Ssm.SecretKey, nodeRegion), environment: env ?? (_ => null));

    [Fact]
    public async Task AnExistingBucketPassesWithItsRegion()
    {
        var r = await Check().CheckAsync(Spec("genomics-ref"), CancellationToken.None);
        Assert.True(r.Checked);
        Assert.Equal("us-east-1", r.Region);
        Assert.Null(r.Warning);
        Assert.Contains(_s3.Log, l => l.StartsWith("HEAD genomics-ref/ ", StringComparison.Ordinal) && l.Contains("Credential=" + Ssm.AccessKey + "/"));
    }

    [Fact]
    public async Task ATypoIsRefusedAsBucketNotFound()
    {
        var e = await Assert.ThrowsAsync<S3MountException>(() => Check().CheckAsync(Spec("genomics-rfe"), CancellationToken.None));
        Assert.Equal(ErrorIds.BucketNotFound, e.ErrorId);
        Assert.Equal(S3MountErrorKind.ObjectNotFound, e.Kind);
        Assert.Equal("genomics-rfe", e.Target);
    }

    [Fact]
    public async Task ABucketTheAdminMayNotReadIsRefusedWithTheWayOut()
    {
        var e = await Assert.ThrowsAsync<S3MountException>(() => Check().CheckAsync(Spec("locked"), CancellationToken.None));
        Assert.Equal(ErrorIds.BucketAccessDenied, e.ErrorId);
        Assert.Equal(S3MountErrorKind.PermissionDenied, e.Kind);
        Assert.Contains("-SkipBucketCheck", e.Message);

        var owner = await Assert.ThrowsAsync<S3MountException>(() => Check().CheckAsync(Spec("genomics-ref", owner: "999999999999"), CancellationToken.None));
        Assert.Equal(ErrorIds.BucketAccessDenied, owner.ErrorId);
    }

    [Fact]
    public async Task AWrongMountS3RegionIsRefused()
    {
        var e = await Assert.ThrowsAsync<S3MountException>(() => Check().CheckAsync(Spec("eu-results", region: "us-west-2"), CancellationToken.None));
        Assert.Equal(ErrorIds.BucketRegionMismatch, e.ErrorId);
        Assert.Equal(S3MountErrorKind.InvalidArgument, e.Kind);

        var right = await Check().CheckAsync(Spec("eu-results", region: "eu-west-1"), CancellationToken.None);
        Assert.Equal("eu-west-1", right.Region);
    }

    [Fact]
    public async Task NoSignRequestChecksAnonymouslyAndEachBucketIsCheckedOnce()
    {
        var check = Check();
        await check.CheckAsync(Spec("genomics-ref", noSign: true), CancellationToken.None);
        await check.CheckAsync(Spec("genomics-ref", noSign: true), CancellationToken.None);
        Assert.Single(_s3.Log, l => l.StartsWith("HEAD genomics-ref/ ", StringComparison.Ordinal));
        Assert.Contains(_s3.Log, l => l == "HEAD genomics-ref/ auth=none");
    }

    [Fact]
    public async Task DirectoryBucketsAreNotCheckedHere()
    {
        var r = await Check().CheckAsync(MountSpec.Create("fast--use1-az4--x-s3", "/mnt/x"), CancellationToken.None);
        Assert.False(r.Checked);
        Assert.Empty(_s3.Log);
    }

    [Fact]
    public async Task AnS3EndpointOfTheSessionIsWhereTheCheckGoesAndWhatItsMessagesSay()
    {
        // AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL), as the AWS SDKs read it, when the mount has no --endpoint-url.
        var spec = MountSpec.Create("genomics-ref", "/mnt/s3", options: new MountOptions { ForcePathStyle = true });
        var fake = _s3.Endpoint.ToString().TrimEnd('/');
        foreach (var name in new[] { "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL" })
        {
            _s3.Log.Clear();
            var r = await Check(env: n => n == name ? fake : null).CheckAsync(spec, CancellationToken.None);
            Assert.True(r.Checked);
            Assert.Contains(_s3.Log, l => l.StartsWith("HEAD genomics-ref/ ", StringComparison.Ordinal));
        }

        var e = await Assert.ThrowsAsync<S3MountException>(() => Check(env: n => n == "AWS_ENDPOINT_URL_S3" ? fake : null).CheckAsync(MountSpec.Create("genomics-rfe", "/mnt/s3", options: new MountOptions { ForcePathStyle = true }), CancellationToken.None));
        Assert.Equal(ErrorIds.BucketNotFound, e.ErrorId);
        Assert.Contains("(S3 in us-east-1 at " + fake + " (environment variable AWS_ENDPOINT_URL_S3) answered 404", e.Message, StringComparison.Ordinal);

        e = await Assert.ThrowsAsync<S3MountException>(() => Check(env: n => n == "AWS_ENDPOINT_URL" ? "not a url" : null).CheckAsync(spec, CancellationToken.None));
        Assert.Equal(ErrorIds.BucketCheckFailed, e.ErrorId);
        Assert.Contains("environment variable AWS_ENDPOINT_URL ('not a url') is not an absolute URL", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnreachableS3IsBucketCheckFailed()
    {
        var port = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        port.Start();
        var url = "http://127.0.0.1:" + ((IPEndPoint)port.LocalEndpoint).Port;
        port.Stop();
        var spec = MountSpec.Create("genomics-ref", "/mnt/s3", options: new MountOptions { S3EndpointUrl = url, ForcePathStyle = true });
        var e = await Assert.ThrowsAsync<S3MountException>(() => Check().CheckAsync(spec, CancellationToken.None));
        Assert.Equal(ErrorIds.BucketCheckFailed, e.ErrorId);
        Assert.Contains("-SkipBucketCheck", e.Message);
    }
}
