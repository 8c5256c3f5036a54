using System;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace S3Mount.FakeSsm;

/// <summary>
/// A simulated node whose file system is a sandbox directory: the S3Mount script SSM would run is run with /bin/sh
/// against that directory as its offline image root (<c>ROOT=...</c>), so create, list and remove really happen,
/// without systemd and without root. <see cref="Prepare"/> lays out the minimal /etc the scripts read. A script that
/// has no image root to point at would act on this machine, and an install would run a package manager: both are
/// refused, never run. Cancelling
/// the invocation (CancelCommand) kills the running script, as the SSM agent does.
/// </summary>
public sealed class SandboxInstance : IFakeInstance
{
    public SandboxInstance(string root) => Root = root;

    public string Root { get; }

    /// <summary>How long the node takes before it runs the script (a slow node, for cancellation tests).</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>The result a refused script gets.</summary>
    public const string RefusedId = "S3MountSandboxRefused";

    /// <summary>Creates the sandbox with /etc/passwd, /etc/group (root and the given user) and /etc/fuse.conf.</summary>
    public static SandboxInstance Prepare(string root, string user, string uid, string gid)
    {
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.WriteAllText(Path.Combine(root, "etc", "passwd"), $"root:x:0:0:root:/root:/bin/sh\n{user}:x:{uid}:{gid}::/home/{user}:/bin/sh\n");
        File.WriteAllText(Path.Combine(root, "etc", "group"), $"root:x:0:\n{user}:x:{gid}:\n");
        File.WriteAllText(Path.Combine(root, "etc", "fuse.conf"), "#user_allow_other\n");
        return new SandboxInstance(root);
    }

    public async Task<(int exit, string stdout, string stderr)> RunAsync(string script, CancellationToken cancellationToken)
    {
        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, cancellationToken).ConfigureAwait(false);
        }

        var decoded = FakeScript.TryDecode(script) ?? script;
        // Installing runs a package manager (in a chroot of the image); a sandbox is not an image to install into.
        if (!decoded.Contains("\nROOT=''\n", StringComparison.Ordinal) || decoded.Contains(": install (generated;", StringComparison.Ordinal))
        {
            return (1, "S3MOUNT-RESULT 1\nerror " + RefusedId + " this+sandbox+node+does+not+install+packages\nS3MOUNT-END\n", "sandbox: refused an install script, or one without ROOT\n");
        }

        var text = decoded.Replace("\nROOT=''\n", "\nROOT='" + Root.Replace("'", "'\\''") + "'\n");
        var file = Path.Combine(Path.GetTempPath(), "s3mount-sandbox-" + Guid.NewGuid().ToString("N") + ".sh");
        File.WriteAllText(file, text, new UTF8Encoding(false));
        try
        {
            var psi = new ProcessStartInfo("/bin/sh", "\"" + file + "\"")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            using var p = Process.Start(psi)!;
            p.StandardInput.Close();
            var o = p.StandardOutput.ReadToEndAsync();
            var e = p.StandardError.ReadToEndAsync();
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
                await p.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
            return (p.ExitCode, await o.ConfigureAwait(false), await e.ConfigureAwait(false));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
