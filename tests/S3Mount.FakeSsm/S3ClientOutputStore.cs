using System;
using System.Threading;
using System.Threading.Tasks;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace S3Mount.FakeSsm;

/// <summary>Writes the fake's full command output to an S3 API endpoint (path-style), e.g. the lab's loopback s3rver.</summary>
public sealed class S3ClientOutputStore : IOutputStore, IDisposable
{
    private readonly AmazonS3Client _client;

    public S3ClientOutputStore(Uri serviceUrl, string accessKey = "S3RVER", string secretKey = "S3RVER", string region = "us-east-1")
    {
        _client = new AmazonS3Client(new BasicAWSCredentials(accessKey, secretKey), new AmazonS3Config
        {
            ServiceURL = serviceUrl.ToString(),
            ForcePathStyle = true,
            AuthenticationRegion = region,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });
    }

    public async Task PutAsync(string bucket, string key, string content, CancellationToken cancellationToken)
    {
        await _client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, ContentBody = content, UseChunkEncoding = false }, cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _client.Dispose();
}
