using System.Diagnostics;
using S3Mount.FakeSsm;

/// <summary>
/// A node of the node lab (tests/lab/lab.sh) behind the fake SSM: each invocation runs the AWS-RunShellScript commands
/// in that booted systemd node as the SSM agent runs them there: as root, written to a <c>_script.sh</c> in a fresh
/// directory of its own, run with <c>/bin/sh</c> from that directory with standard input from /dev/null, the
/// directory removed afterwards. It goes through <c>lab.sh exec NODE</c> (the script on its standard input), so the
/// lab is the one <c>S3MOUNT_LAB_ID</c> names in this process's environment. Cancelling the invocation
/// (CancelCommand, the execution timeout) kills the exec and everything it started.
/// </summary>
internal sealed class LabNodeInstance : IFakeInstance
{
    // What the agent does with the commands (its orchestration folder is /var/lib/amazon/ssm/<id>/document/orchestration/<command>/...).
    private const string Agent =
        "set -e; mkdir -p /var/lib/amazon/ssm/orchestration; d=$(mktemp -d /var/lib/amazon/ssm/orchestration/XXXXXXXX); " +
        "cat >\"$d/_script.sh\"; cd \"$d\"; set +e; /bin/sh \"$d/_script.sh\" </dev/null; rc=$?; cd /; rm -rf \"$d\"; exit $rc";

    private readonly string _labScript;

    public LabNodeInstance(string labScript, string name)
    {
        _labScript = labScript;
        Name = name;
    }

    /// <summary>The lab node's name (lab.sh up NAME).</summary>
    public string Name { get; }

    public async Task<(int exit, string stdout, string stderr)> RunAsync(string script, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(_labScript)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "exec", Name, "/bin/sh", "-c", Agent })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var e = p.StandardError.ReadToEndAsync(CancellationToken.None);
        using (cancellationToken.Register(() =>
        {
            try
            {
                p.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }))
        {
            try
            {
                await p.StandardInput.WriteAsync(script.AsMemory(), CancellationToken.None).ConfigureAwait(false);
                p.StandardInput.Close();
            }
            catch (IOException)
            {
                // The exec ended (or was killed) before it read the script: its exit status says what happened.
            }

            await p.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
        return (p.ExitCode, await o.ConfigureAwait(false), await e.ConfigureAwait(false));
    }
}
