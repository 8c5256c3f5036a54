using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using static S3Mount.IntegrationTests.LabTestHelpers;

namespace S3Mount.IntegrationTests;

[Collection(NodeLabCollection.Name)]
public sealed class LabBootTests(NodeLabFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task ThreeNodesBootInParallelWithTheirOwnIdentity()
    {
        var lab = fixture.Lab;
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"lab {lab.LabId}: setup {lab.SetupTime.TotalSeconds:F1} s, boot of {lab.Nodes.Count} nodes {lab.BootTime.TotalSeconds:F1} s"));
        Assert.Equal(3, lab.Nodes.Count);

        var results = await Task.WhenAll(lab.Nodes.Select(n =>
            n.ExecAsync("systemctl is-system-running; hostname; cat /etc/machine-id; test -c /dev/fuse && echo fuse", cancellationToken: Ct)));
        var machineIds = new System.Collections.Generic.HashSet<string>();
        for (var i = 0; i < results.Length; i++)
        {
            var lines = results[i].StdOut.Split('\n');
            output.WriteLine($"{lab.Nodes[i].Name}: {string.Join(" | ", lines)}");
            Assert.Contains(lines[0], new[] { "running", "degraded" });
            Assert.Equal(lab.Nodes[i].Name, lines[1]);
            Assert.Matches("^[0-9a-f]{32}$", lines[2]);
            Assert.True(machineIds.Add(lines[2]), "machine ids must differ");
            Assert.Equal("fuse", lines[3]);
            Assert.True(System.IO.File.Exists(System.IO.Path.Combine(lab.Nodes[i].RootPath, "etc/os-release")));
        }
    }

    [Fact]
    public async Task NodesReachTheLabServersOnLoopback()
    {
        var lab = fixture.Lab;
        var node = lab.Nodes[0];
        var r = await node.ExecAsync(
            $"curl -fsS -o /dev/null -w '%{{http_code}}' {lab.S3Endpoint}lab-bucket && echo && curl -fsS {lab.PackageUrl("public_keys/KEYS")} | head -1",
            cancellationToken: Ct);
        Assert.True(r.Succeeded, r.ToString());
        Assert.Contains("200", r.StdOut, System.StringComparison.Ordinal);
        Assert.Contains("BEGIN PGP PUBLIC KEY BLOCK", r.StdOut, System.StringComparison.Ordinal);
    }
}
