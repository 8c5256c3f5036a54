using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;

namespace S3Mount.Ssm.Tests;

public class S3OutputTests
{
    [Fact]
    public void OutputKeyMatchesWhatSsmWrites()
    {
        Assert.Equal("p/q/cid/i-1/awsrunShellScript/0.awsrunShellScript/stdout", S3OutputReader.OutputKey("p/q/", "cid", "i-1", "stdout"));
        Assert.Equal("cid/i-1/awsrunShellScript/0.awsrunShellScript/stderr", S3OutputReader.OutputKey(null, "cid", "i-1", "stderr"));
    }

    [Fact]
    public async Task FullOutputIsReadBackFromS3WithAwsSdkS3()
    {
        using var s3 = new FakeS3Server();
        using var store = new S3ClientOutputStore(s3.Endpoint);
        using var fake = new FakeSsmServer(new FakeSsmOptions { OutputStore = store });
        fake.AddInstance(Ssm.Id(1), new SimulatedInstance { PaddingBeforeResult = 40_000, Stderr = "warning: big\n" });
        using var client = Ssm.Client(fake.Endpoint);
        using var reader = new S3OutputReader(Ssm.Settings(), s3.Endpoint);
        FleetNodeResult<ResultBlock>? result = null;
        await new FleetRunner(client, reader, FleetTests.FastOptions()).RunAsync(
            new FleetRunRequest { Script = "x", InstanceIds = new[] { Ssm.Id(1) }, OutputS3BucketName = "ssm-output", OutputS3KeyPrefix = "s3mount" },
            o => ResultBlock.Parse(o.Stdout), new DelegateFleetSink<ResultBlock>(r => result = r), CancellationToken.None);

        Assert.True(result!.IsSuccess, result + " | S3 log: " + string.Join("; ", s3.Log));
        Assert.Equal("S3", result.OutputSource);
        Assert.True(result.Stdout!.Length > 40_000);
        Assert.Equal("warning: big\n", result.Stderr);
        Assert.Contains(s3.Log, l => l.StartsWith("GET ssm-output/s3mount/", StringComparison.Ordinal) && l.Contains("AWS4-HMAC-SHA256"));
        Assert.Null(await reader.ReadTextAsync("ssm-output", "missing/key", null, CancellationToken.None));
    }
}
