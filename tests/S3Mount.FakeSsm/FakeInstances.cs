using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace S3Mount.FakeSsm;

/// <summary>
/// A node behind the fake SSM. <paramref name="script"/> in <see cref="RunAsync"/> is what the SSM agent would run:
/// the AWS-RunShellScript <c>commands</c> joined with newlines.
/// </summary>
public interface IFakeInstance
{
    Task<(int exit, string stdout, string stderr)> RunAsync(string script, CancellationToken cancellationToken);
}

/// <summary>How a registered node looks to SSM: agent state, platform, tags, delivery behaviour.</summary>
public sealed class FakeNode
{
    public FakeNode(string instanceId, IFakeInstance instance)
    {
        InstanceId = instanceId;
        Instance = instance;
    }

    public string InstanceId { get; }
    public IFakeInstance Instance { get; }
    public string PingStatus { get; init; } = "Online";
    public string PlatformType { get; init; } = "Linux";
    public string PlatformName { get; init; } = "Debian GNU/Linux";
    public string PlatformVersion { get; init; } = "12";
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    /// <summary>The command fails with StatusDetails <c>Undeliverable</c> (does not count against MaxErrors).</summary>
    public bool Undeliverable { get; init; }

    /// <summary>The command never arrives: after the delivery timeout it ends <c>Delivery Timed Out</c>.</summary>
    public bool NeverDelivered { get; init; }

    /// <summary>The invocation stays <c>Pending</c> for ever, even past the delivery timeout (a service that never moves it on).</summary>
    public bool StaysPending { get; init; }

    /// <summary>The agent starts the script, then dies: the invocation stays <c>InProgress</c> for ever.</summary>
    public bool AgentDiesMidCommand { get; init; }
}

/// <summary>A simulated node for scale tests: latency, exit code and output are configurable, nothing is executed.</summary>
public sealed class SimulatedInstance : IFakeInstance
{
    public TimeSpan Latency { get; init; } = TimeSpan.FromMilliseconds(10);
    public int ExitCode { get; init; }

    /// <summary>Builds stdout from the script; defaults to a one-record result block.</summary>
    public Func<string, string>? Stdout { get; init; }

    public string Stderr { get; init; } = string.Empty;

    /// <summary>When set, stdout is padded with this many characters of noise before the result (truncation tests).</summary>
    public int PaddingBeforeResult { get; init; }

    public async Task<(int exit, string stdout, string stderr)> RunAsync(string script, CancellationToken cancellationToken)
    {
        if (Latency > TimeSpan.Zero)
        {
            await Task.Delay(Latency, cancellationToken).ConfigureAwait(false);
        }

        var body = Stdout?.Invoke(script) ?? (ExitCode == 0
            ? "S3MOUNT-RESULT 1\nok simulated\nS3MOUNT-END\n"
            : "S3MOUNT-RESULT 1\nerror S3MountSimulatedFailure simulated%20failure\nS3MOUNT-END\n");
        if (PaddingBeforeResult > 0)
        {
            var sb = new StringBuilder(PaddingBeforeResult + body.Length + 64);
            var line = new string('x', 79) + "\n";
            while (sb.Length + line.Length <= PaddingBeforeResult)
            {
                sb.Append(line);
            }

            body = sb.Append(body).ToString();
        }

        return (ExitCode, body, Stderr);
    }
}

/// <summary>Any delegate as a node, e.g. a node-lab container's <c>ExecAsync(script, stdin, timeout)</c>.</summary>
public sealed class DelegateInstance : IFakeInstance
{
    private readonly Func<string, CancellationToken, Task<(int exit, string stdout, string stderr)>> _run;

    public DelegateInstance(Func<string, CancellationToken, Task<(int exit, string stdout, string stderr)>> run) => _run = run;

    /// <summary>
    /// Adapts a lab node's <c>ExecAsync(script, stdin, timeout)</c>, which runs its script with sh. By default the node
    /// gets exactly what the SSM agent would run (the commands, including S3Mount's base64 wrapper line); with
    /// <paramref name="decode"/> it gets the original script back when the commands carry S3Mount's encoding.
    /// </summary>
    public static DelegateInstance FromExec(Func<string, string?, TimeSpan?, Task<(int exit, string stdout, string stderr)>> execAsync, bool decode = false) =>
        new((script, ct) => execAsync(decode ? FakeScript.TryDecode(script) ?? script : script, null, null));

    public Task<(int exit, string stdout, string stderr)> RunAsync(string script, CancellationToken cancellationToken) => _run(script, cancellationToken);
}

/// <summary>Runs the commands on this machine with /bin/sh, as the SSM agent does with its _script.sh.</summary>
public sealed class LocalShellInstance : IFakeInstance
{
    public async Task<(int exit, string stdout, string stderr)> RunAsync(string script, CancellationToken cancellationToken)
    {
        var dir = Path.Combine(Path.GetTempPath(), "fakessm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var file = Path.Combine(dir, "_script.sh");
        await File.WriteAllTextAsync(file, script, cancellationToken).ConfigureAwait(false);
        try
        {
            var psi = new ProcessStartInfo("/bin/sh", file)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                WorkingDirectory = dir,
                UseShellExecute = false,
            };
            using var p = Process.Start(psi)!;
            p.StandardInput.Close();
            var so = p.StandardOutput.ReadToEndAsync(cancellationToken);
            var se = p.StandardError.ReadToEndAsync(cancellationToken);
            try
            {
                await p.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                p.Kill(entireProcessTree: true);
                throw;
            }

            return (p.ExitCode, await so.ConfigureAwait(false), await se.ConfigureAwait(false));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>Where the fake writes full output when OutputS3BucketName is set (the lab plugs in its loopback S3).</summary>
public interface IOutputStore
{
    Task PutAsync(string bucket, string key, string content, CancellationToken cancellationToken);
}

/// <summary>An in-memory bucket store; also readable, so tests can hand it to the fleet runner.</summary>
public sealed class InMemoryOutputStore : IOutputStore
{
    public ConcurrentDictionary<string, string> Objects { get; } = new(StringComparer.Ordinal);

    public Task PutAsync(string bucket, string key, string content, CancellationToken cancellationToken)
    {
        Objects[bucket + "/" + key] = content;
        return Task.CompletedTask;
    }

    public string? Get(string bucket, string key) => Objects.TryGetValue(bucket + "/" + key, out var v) ? v : null;
}

/// <summary>Reads S3Mount's AWS-RunShellScript encoding (one line that base64-decodes the script into a file for /bin/sh).</summary>
public static class FakeScript
{
    private static readonly System.Text.RegularExpressions.Regex Payload = new("printf '%s' '([A-Za-z0-9+/=]*)' \\| base64 -d");

    /// <summary>The original script, or null when the commands are not S3Mount-encoded.</summary>
    public static string? TryDecode(string commands)
    {
        var m = Payload.Match(commands);
        if (!m.Success)
        {
            return null;
        }

        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(m.Groups[1].Value));
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
