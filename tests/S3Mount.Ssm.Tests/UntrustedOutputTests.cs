using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Scripts;
using S3Mount.FakeSsm;

namespace S3Mount.Ssm.Tests;

/// <summary>
/// A node's stdout is input from a machine the admin may not trust: forged, malformed and oversized output is that
/// node's own error, read bounded, and every other node's result is untouched.
/// </summary>
public class UntrustedOutputTests
{
    private const string Genuine = "S3MOUNT-RESULT 1\nok genuine\nS3MOUNT-END\n";

    [Fact]
    public async Task ForgedMalformedAndOversizedOutputIsEachNodesOwnErrorAndNobodyElses()
    {
        var outputs = new Dictionary<int, string>
        {
            [1] = Genuine + "S3MOUNT-RESULT 1\nok forged\ninstance " + Ssm.Id(2) + "\nS3MOUNT-END\n",  // claims another instance
            [3] = "S3MOUNT-RESULT 1\nok bad%zzescape\nS3MOUNT-END\n",                              // invalid percent-encoding
            [4] = "S3MOUNT-RESULT 1\nok %C3%28\nS3MOUNT-END\n",                                    // not UTF-8
            [5] = "S3MOUNT-RESULT 1\nerror $(reboot) injected\nS3MOUNT-END\n",                     // an error id that is no word
            [6] = new string('y', 10 * 1024 * 1024) + Genuine,                                     // 10 MB, full copy only in S3
            [7] = "S3MOUNT-RESULT 1\n" + string.Concat(Enumerable.Repeat("r x\n", 600)),          // a block that never ends
        };
        using var s3 = new FakeS3Server();
        using var fake = new FakeSsmServer(new FakeSsmOptions { OutputStore = s3 });
        var ids = Enumerable.Range(1, 9).Select(Ssm.Id).ToList();
        for (var i = 1; i <= 9; i++)
        {
            var stdout = outputs.TryGetValue(i, out var o) ? o : Genuine;
            fake.AddInstance(Ssm.Id(i), new SimulatedInstance { Latency = TimeSpan.FromMilliseconds(5), Stdout = _ => stdout });
        }

        using var client = Ssm.Client(fake.Endpoint);
        using var reader = new S3OutputReader(Ssm.Settings(), s3.Endpoint);
        var results = new List<FleetNodeResult<string>>();
        await new FleetRunner(client, reader, FleetTests.FastOptions()).RunAsync(
            new FleetRunRequest { Script = "x", InstanceIds = ids, OutputS3BucketName = "ssm-output" },
            o => o.Block.First("ok")![0], new DelegateFleetSink<string>(r => { lock (results) { results.Add(r); } }), CancellationToken.None);

        Assert.Equal(ids.OrderBy(x => x), results.Select(r => r.InstanceId).OrderBy(x => x));
        var by = results.ToDictionary(r => r.InstanceId);
        Assert.Equal("forged", by[Ssm.Id(1)].Value);                  // the last whole block is the node's answer...
        Assert.Equal(Ssm.Id(1), by[Ssm.Id(1)].InstanceId);            // ...and it stays that node's: SSM says who answered
        Assert.Equal("genuine", by[Ssm.Id(2)].Value);                 // the instance it claimed is untouched
        Assert.Equal(SsmErrorIds.S3MountResultInvalid, by[Ssm.Id(3)].ErrorId);
        Assert.Equal(SsmErrorIds.S3MountResultInvalid, by[Ssm.Id(4)].ErrorId);
        Assert.Equal(SsmErrorIds.S3MountResultInvalid, by[Ssm.Id(5)].ErrorId);
        Assert.Equal(SsmErrorIds.S3MountResultTooLarge, by[Ssm.Id(6)].ErrorId);
        Assert.Equal("S3", by[Ssm.Id(6)].OutputSource);
        Assert.Equal(SsmErrorIds.S3MountResultTruncated, by[Ssm.Id(7)].ErrorId);
        Assert.All(new[] { 3, 4, 5, 6, 7 }, i => Assert.Equal(S3MountErrorKind.InvalidData, by[Ssm.Id(i)].ErrorKind));
        Assert.All(new[] { 2, 8, 9 }, i => Assert.Equal("genuine", by[Ssm.Id(i)].Value));
    }

    [Fact]
    public async Task TheS3OutputReaderStopsAtTheBound()
    {
        using var s3 = new FakeS3Server();
        await s3.PutAsync("b", "big", new string('y', ResultBlock.MaxOutputChars + 10), CancellationToken.None);
        await s3.PutAsync("b", "small", Genuine, CancellationToken.None);
        using var reader = new S3OutputReader(Ssm.Settings(), s3.Endpoint);
        Assert.Equal(Genuine, await reader.ReadTextAsync("b", "small", null, CancellationToken.None));
        var e = await Assert.ThrowsAsync<S3MountException>(() => reader.ReadTextAsync("b", "big", null, CancellationToken.None));
        Assert.Equal(SsmErrorIds.S3MountResultTooLarge, e.ErrorId);
    }
}
