using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Install;
using S3Mount.Engine.Ssm;

namespace S3Mount.Engine.Bootstrap;

/// <summary>Puts a bootstrap script where ParallelCluster downloads it from (AWSSDK.S3 PutObject).</summary>
public static class BootstrapUpload
{
    /// <summary>Uploads <paramref name="body"/> to <paramref name="s3Uri"/> with the admin's credentials; failures throw <c>S3MountUploadFailed</c>.</summary>
    public static async Task PutAsync(ResolvedAwsSettings settings, string s3Uri, byte[] body, CancellationToken cancellationToken = default)
    {
        if (settings is null)
        {
            throw new ArgumentNullException(nameof(settings));
        }

        var (bucket, key) = S3PackagePresigner.ParseS3Uri(s3Uri);
        try
        {
            using var client = new AmazonS3Client(settings.Credentials, S3Clients.Config(settings.Region, settings.Endpoint?.ToString()));
            using var stream = new MemoryStream(body, writable: false);
            await client.PutObjectAsync(new PutObjectRequest
            {
                BucketName = bucket,
                Key = key,
                InputStream = stream,
                ContentType = "text/x-shellscript",
                AutoCloseStream = false,

                // The script is small and in memory: one signed payload, which S3-compatible servers read too (s3rver
                // stores an aws-chunked body as it came, chunk signatures and all).
                UseChunkEncoding = false,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonServiceException e)
        {
            throw new S3MountException(BootstrapErrorIds.UploadFailed, S3MountErrorKind.WriteError,
                $"Could not upload the bootstrap script to s3://{bucket}/{key}: {e.Message} ({e.ErrorCode ?? e.StatusCode.ToString()}). Check the bucket, its region (-Region) and your permission to s3:PutObject.", s3Uri, e);
        }
        catch (AmazonClientException e)
        {
            throw new S3MountException(BootstrapErrorIds.UploadFailed, S3MountErrorKind.ConnectionError,
                $"Could not upload the bootstrap script to s3://{bucket}/{key}: {e.Message}", s3Uri, e);
        }
    }
}
