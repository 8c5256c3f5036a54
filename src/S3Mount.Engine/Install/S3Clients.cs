using Amazon;
using Amazon.Runtime;
using Amazon.S3;

namespace S3Mount.Engine.Install;

/// <summary>The one S3 client configuration: AWS by region, or an S3-compatible endpoint (tests, VPC endpoints) with path-style addressing.</summary>
public static class S3Clients
{
    public static AmazonS3Config Config(string region, string? serviceUrl)
    {
        var config = new AmazonS3Config();
        if (serviceUrl is null)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }
        else
        {
            config.ServiceURL = serviceUrl;
            config.AuthenticationRegion = region;
            config.ForcePathStyle = true;

            // S3-compatible servers (s3rver in the tests, older appliances) do not all read aws-chunked bodies with
            // trailing checksums, which the SDK sends by default; a checksum only where the operation requires one.
            config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
        }

        return config;
    }
}
