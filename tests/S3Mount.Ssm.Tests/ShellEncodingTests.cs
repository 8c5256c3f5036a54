using System;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Scripts;
using S3Mount.FakeSsm;

namespace S3Mount.Ssm.Tests;

/// <summary>Scripts survive the AWS-RunShellScript encoding byte for byte and run under /bin/sh (dash on Debian).</summary>
public class ShellEncodingTests
{
    private const string Nasty = "#!/bin/sh\nset -eu\n# quotes ' \" ` $HOME \\ and a CR\r\nx='it'\"'\"'s'\nprintf '%s\\n' \"$x\"\ncat <<'EOF'\n$NOT_EXPANDED `nope`\nEOF\nprintf 'ünïcødé ✓\\n'\nif read -r line; then echo \"stdin had: $line\"; else echo 'stdin empty'; fi\necho \"shell: $(readlink -f /proc/$$/exe)\"\nprintf 'S3MOUNT-RESULT 1\\nok %s\\nS3MOUNT-END\\n' \"$(printf 'a%%20b')\"\n";

    [Fact]
    public void EncodingRoundTrips()
    {
        var cmds = ScriptEncoding.ToCommands(Nasty);
        Assert.Single(cmds);
        Assert.Equal(Nasty, ScriptEncoding.TryDecode(cmds));
        Assert.DoesNotContain('\n', cmds[0]);
    }

    [Fact]
    public async Task LabNodesGetTheAgentsCommandsOrTheDecodedScript()
    {
        string? seenRaw = null;
        string? seenDecoded = null;
        using var fake = new FakeSsmServer();
        fake.AddInstance(Ssm.Id(1), DelegateInstance.FromExec((script, stdin, timeout) => { seenRaw = script; return Task.FromResult((0, "S3MOUNT-RESULT 1\nS3MOUNT-END\n", string.Empty)); }));
        fake.AddInstance(Ssm.Id(2), DelegateInstance.FromExec((script, stdin, timeout) => { seenDecoded = script; return Task.FromResult((0, "S3MOUNT-RESULT 1\nS3MOUNT-END\n", string.Empty)); }, decode: true));
        using var client = Ssm.Client(fake.Endpoint);
        var results = new System.Collections.Generic.List<FleetNodeResult<string>>();
        await new FleetRunner(client, null, FleetTests.FastOptions()).RunAsync(
            new FleetRunRequest { Script = Nasty, InstanceIds = new[] { Ssm.Id(1), Ssm.Id(2) } }, o => o.Stdout,
            new DelegateFleetSink<string>(r => { lock (results) { results.Add(r); } }), CancellationToken.None);
        Assert.All(results, r => Assert.True(r.IsSuccess));
        Assert.Equal(ScriptEncoding.ToCommands(Nasty)[0], seenRaw);
        Assert.Equal(Nasty, seenDecoded);
        Assert.Equal(Nasty, FakeScript.TryDecode(seenRaw!));
    }

    [Fact]
    public async Task ScriptsRunUnderBinShThroughTheFake()
    {
        if (!File.Exists("/bin/sh"))
        {
            Assert.Skip("no /bin/sh");
        }

        using var fake = new FakeSsmServer();
        fake.AddInstance(Ssm.Id(1), new LocalShellInstance());
        using var client = Ssm.Client(fake.Endpoint);
        FleetNodeResult<ResultBlock>? result = null;
        await new FleetRunner(client, null, FleetTests.FastOptions()).RunAsync(
            new FleetRunRequest { Script = Nasty, InstanceIds = new[] { Ssm.Id(1) } },
            o => ResultBlock.Parse(o.Stdout), new DelegateFleetSink<ResultBlock>(r => result = r), CancellationToken.None);
        Assert.NotNull(result);
        Assert.True(result!.IsSuccess, result + "\n" + result.Stdout + "\n" + result.Stderr);
        Assert.Contains("it's", result.Stdout);
        Assert.Contains("$NOT_EXPANDED `nope`", result.Stdout);
        Assert.Contains("ünïcødé ✓", result.Stdout);
        Assert.Contains("stdin empty", result.Stdout);
        var shell = Path.GetFileName(new FileInfo("/bin/sh").ResolveLinkTarget(true)?.FullName ?? "/bin/sh");
        Assert.Contains("shell: ", result.Stdout);
        Assert.Contains(shell, result.Stdout);
        Assert.Equal("a b", result.Value!.First("ok")![0]);
    }

    [Fact]
    public async Task AFailingScriptReportsItsOwnErrorIdAndExitCode()
    {
        using var fake = new FakeSsmServer();
        fake.AddInstance(Ssm.Id(1), new LocalShellInstance());
        using var client = Ssm.Client(fake.Endpoint);
        var script = "echo working >&2\nprintf 'S3MOUNT-RESULT 1\\nerror S3MountPathInvalid %s\\nS3MOUNT-END\\n' \"$(printf 'bad%%20path')\"\nexit 4\n";
        FleetNodeResult<string>? result = null;
        await new FleetRunner(client, null, FleetTests.FastOptions()).RunAsync(
            new FleetRunRequest { Script = script, InstanceIds = new[] { Ssm.Id(1) } }, o => o.Stdout, new DelegateFleetSink<string>(r => result = r), CancellationToken.None);
        Assert.Equal(FleetOutcome.Failed, result!.Outcome);
        Assert.Equal("S3MountPathInvalid", result.ErrorId);
        Assert.Equal("bad path", result.ErrorMessage);
        Assert.Equal(4, result.ExitCode);
        Assert.Contains("working", result.Stderr);
        Assert.DoesNotContain(fake.Requests, r => r.Operation == "GetCommandInvocation");
    }
}
