using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Scripts;

namespace S3Mount.Engine.Node;

/// <summary>What a node script printed and returned.</summary>
public sealed class ScriptOutput
{
    public ScriptOutput(int exitCode, string stdout, string stderr)
    {
        ExitCode = exitCode;
        Stdout = stdout;
        Stderr = stderr;
    }

    public int ExitCode { get; }
    public string Stdout { get; }
    public string Stderr { get; }

    /// <summary>The result block, or an error saying it is missing or cut short (with the end of stderr).</summary>
    public ResultBlock Block(object? target = null)
    {
        try
        {
            return ResultBlock.Parse(Stdout, target);
        }
        catch (S3MountException e)
        {
            var tail = Stderr.Length > 1500 ? Stderr.Substring(Stderr.Length - 1500) : Stderr;
            throw new S3MountException(e.ErrorId, e.Kind, e.Message + (tail.Length > 0 ? " Standard error: " + tail.Trim() : string.Empty), target);
        }
    }
}

/// <summary>Runs node scripts on this machine with /bin/sh (the local transport; SSM is the other).</summary>
public sealed class LocalScriptRunner
{
    private readonly string _shell;

    public LocalScriptRunner(string shell = "/bin/sh") => _shell = shell;

    /// <summary>Throws <c>S3MountNotLinux</c> off Linux: local mode manages the machine it runs on.</summary>
    public static void EnsureLinux()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
        {
            throw new S3MountException("S3MountNotLinux", S3MountErrorKind.ResourceUnavailable,
                "This machine is not Linux: S3Mount manages Linux nodes. From here, use -InstanceId (or -Target) to manage EC2 nodes through SSM Run Command, or -Root to write into an image.",
                null);
        }
    }

    /// <summary>Writes the script to a private temp file and runs it with stdin closed; cancellation kills it.</summary>
    public async Task<ScriptOutput> RunAsync(NodeScript script, CancellationToken cancellationToken = default)
    {
        EnsureLinux();
        var file = Path.GetTempFileName(); // mkstemp: mode 0600
        try
        {
            File.WriteAllText(file, script.Text, new UTF8Encoding(false));
            var psi = new ProcessStartInfo(_shell, "\"" + file + "\"")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
                StandardOutputEncoding = new UTF8Encoding(false),
                StandardErrorEncoding = new UTF8Encoding(false),
            };
            using var p = new Process { StartInfo = psi };
            p.Start();
            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            var exited = new TaskCompletionSource<bool>();
            p.EnableRaisingEvents = true;
            p.Exited += (_, _) => exited.TrySetResult(true);
            if (p.HasExited)
            {
                exited.TrySetResult(true);
            }

            using (cancellationToken.Register(() =>
            {
                try
                {
                    if (!p.HasExited)
                    {
                        p.Kill();
                    }
                }
                catch (InvalidOperationException)
                {
                }
            }))
            {
                await exited.Task.ConfigureAwait(false);
            }

            p.WaitForExit();
            cancellationToken.ThrowIfCancellationRequested();
            return new ScriptOutput(p.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
