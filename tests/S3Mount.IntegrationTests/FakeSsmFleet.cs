using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;

namespace S3Mount.IntegrationTests;

/// <summary>The engine's fleet runner pointed at a fake SSM service whose instances are lab nodes.</summary>
internal static class FakeSsmFleet
{
    /// <summary>Sends <paramref name="script"/> to <paramref name="ids"/> through <paramref name="fake"/> and parses each node's result block.</summary>
    public static async Task<List<FleetNodeResult<T>>> RunAsync<T>(FakeSsmServer fake, NodeScript script, IReadOnlyList<string> ids, Func<ResultBlock, T> parse, CancellationToken ct, string? maxConcurrency = null)
    {
        using var ssm = new SsmHttpClient(ResolvedAwsSettings.FromKeys("AKIAFLEETLAB00000001", "fleet/lab/secret/key/0000000000000000000", "us-east-1", fake.Endpoint));
        var runner = new FleetRunner(ssm, null, new FleetRunnerOptions { PollInterval = TimeSpan.FromMilliseconds(200), MaxPollInterval = TimeSpan.FromMilliseconds(500) });
        var results = new List<FleetNodeResult<T>>();
        var sink = new DelegateFleetSink<T>(r => { lock (results) { results.Add(r); } });
        await runner.RunAsync(new FleetRunRequest { Script = script.Text, InstanceIds = ids, MaxConcurrency = maxConcurrency }, o => parse(new ScriptOutput(o.ExitCode, o.Stdout, o.Stderr).Block(o.InstanceId)), sink, ct);
        return results;
    }
}
