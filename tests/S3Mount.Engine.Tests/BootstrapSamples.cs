using S3Mount.Engine.Bootstrap;
using S3Mount.Engine.Install;
using S3Mount.Engine.Model;
using S3Mount.Engine.Node;

namespace S3Mount.Engine.Tests;

/// <summary>
/// Mounts as clusters have them (every one different: buckets, prefixes, paths, users, caches, regions), for sizes and
/// for the composition tests; the same list the README's size table was measured with.
/// </summary>
public static class BootstrapSamples
{
    private static readonly string[] Areas = { "genomics", "results", "scratch", "models", "checkpoints", "datasets", "logs", "reference" };

    public static MountSpec Mount(int i)
    {
        var area = Areas[i % Areas.Length];
        var n = i / Areas.Length;
        var bucket = $"{area}-{(n == 0 ? "prod" : "team" + n)}-{1000 + (i * 7919 % 9000)}";
        var options = (i % 4) switch
        {
            0 => new MountOptions { ReadOnly = true, AllowOther = true, BucketRegion = "us-east-1", CacheDirectory = $"/mnt/nvme/cache/{area}{n}", MaxCacheSizeMiB = 20480 + i },
            1 => new MountOptions { AllowDelete = true, AllowOther = true, Uid = 1000, Gid = 1000, BucketRegion = "us-west-2" },
            2 => new MountOptions { AllowDelete = true, AllowOverwrite = true, IncrementalUpload = false, BucketRegion = "eu-west-1", MaxThreads = 32 },
            _ => new MountOptions { ReadOnly = true, AllowRoot = true, BucketRegion = "ap-southeast-2", MetadataTtl = MetadataTtl.Parse("300"), CacheDirectory = $"/var/cache/s3/{area}{n}" },
        };
        var prefix = i % 3 == 0 ? null : $"projects/{area}/v{i}/";
        var user = i % 2 == 0 ? "root" : "ec2-user";
        return MountSpec.Create(bucket, $"/fsx/{area}{(n == 0 ? string.Empty : n.ToString())}", prefix, options, user);
    }

    public static InstallRequest Install() => InstallRequest.Official("1.23.0");

    public static BootstrapScript Script(int mounts, bool install)
    {
        var r = new BootstrapRequest { Install = install ? Install() : null };
        for (var i = 0; i < mounts; i++)
        {
            r.Mounts.Add(new CreateRequest(Mount(i)));
        }

        return BootstrapScript.Compose(r);
    }
}
