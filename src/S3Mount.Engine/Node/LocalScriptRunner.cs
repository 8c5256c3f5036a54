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
    public ScriptOutput(int exitCode, string stdout, string stderr, bool stdoutOverflowed = false)
    {
        ExitCode = exitCode;
        Stdout = stdout;
        Stderr = stderr;
        StdoutOverflowed = stdoutOverflowed;
    }

    public int ExitCode { get; }

    /// <summary>Standard output, at most <see cref="ResultBlock.MaxOutputChars"/> (+1) characters.</summary>
    public string Stdout { get; }

    /// <summary>The end of standard error, at most <see cref="LocalScriptRunner.MaxStderrChars"/> characters.</summary>
    public string Stderr { get; }

    /// <summary>Standard output was longer than a result may be; the rest was read and dropped.</summary>
    public bool StdoutOverflowed { get; }

    /// <summary>The result block, or an error saying it is missing, cut short, malformed or too large (with the end of stderr).</summary>
    public ResultBlock Block(object? target = null)
    {
        try
        {
            if (StdoutOverflowed)
            {
                throw new S3MountException(SsmErrorIds.S3MountResultTooLarge, S3MountErrorKind.InvalidData,
                    "The node script printed more than " + ResultBlock.MaxOutputChars.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " characters; that is not a result and was not read.", target);
            }

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
    /// <summary>Only the end of standard error is kept (diagnostics; the last lines say why).</summary>
    public const int MaxStderrChars = 64 * 1024;

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
            // Bounded reads that still drain the pipes, so a script printing without end neither fills memory nor blocks.
            var stdout = BoundedText.ReadHeadAsync(p.StandardOutput, ResultBlock.MaxOutputChars + 1);
            var stderr = BoundedText.ReadTailAsync(p.StandardError, MaxStderrChars);
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
            var (text, overflowed) = await stdout.ConfigureAwait(false);
            return new ScriptOutput(p.ExitCode, text, await stderr.ConfigureAwait(false), overflowed);
        }
        finally
        {
            File.Delete(file);
        }
    }
}

/// <summary>Reads text up to a bound, then drains the rest: untrusted output never grows memory without end.</summary>
public static class BoundedText
{
    /// <summary>The first <paramref name="maxChars"/> characters, and whether there was more.</summary>
    public static async Task<(string Text, bool Overflowed)> ReadHeadAsync(TextReader reader, int maxChars)
    {
        var sb = new StringBuilder();
        var buffer = new char[16 * 1024];
        var overflowed = false;
        int n;
        while ((n = await reader.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false)) > 0)
        {
            var take = Math.Min(n, maxChars - sb.Length);
            if (take > 0)
            {
                sb.Append(buffer, 0, take);
            }

            overflowed |= take < n;
        }

        return (sb.ToString(), overflowed);
    }

    /// <summary>The last <paramref name="maxChars"/> characters.</summary>
    public static async Task<string> ReadTailAsync(TextReader reader, int maxChars)
    {
        var sb = new StringBuilder();
        var buffer = new char[16 * 1024];
        int n;
        while ((n = await reader.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false)) > 0)
        {
            sb.Append(buffer, 0, n);
            if (sb.Length > 2 * maxChars)
            {
                sb.Remove(0, sb.Length - maxChars);
            }
        }

        return sb.Length > maxChars ? sb.ToString(sb.Length - maxChars, maxChars) : sb.ToString();
    }
}
