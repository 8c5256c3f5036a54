using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace S3Mount.Lab;

/// <summary>The outcome of a command run on the host or in a node.</summary>
/// <param name="ExitCode">Exit status (124 when the time limit was hit).</param>
/// <param name="StdOut">Everything written to standard output.</param>
/// <param name="StdErr">Everything written to standard error.</param>
/// <param name="TimedOut">True when the command was killed at its time limit.</param>
public sealed record ExecResult(int ExitCode, string StdOut, string StdErr, bool TimedOut = false)
{
    /// <summary>True when the exit status is 0.</summary>
    public bool Succeeded => ExitCode == 0 && !TimedOut;

    /// <summary>Throws <see cref="LabException"/> unless the command succeeded.</summary>
    /// <param name="what">What was run, for the message.</param>
    /// <returns>This result.</returns>
    public ExecResult EnsureSuccess(string what)
    {
        if (!Succeeded)
        {
            throw new LabException($"{what} failed: {this}");
        }

        return this;
    }

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"exit {ExitCode}{(TimedOut ? " (timed out)" : string.Empty)}\n--- stdout:\n{StdOut}\n--- stderr:\n{StdErr}");
}

/// <summary>A lab operation failed.</summary>
public sealed class LabException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    public LabException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="inner">The cause.</param>
    public LabException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>Creates the exception.</summary>
    public LabException()
    {
    }
}

internal static class LabProcess
{
    public static async Task<ExecResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string> environment,
        string? stdin,
        TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }

        using var process = new Process { StartInfo = psi };
        if (!process.Start())
        {
            throw new LabException($"could not start {fileName}");
        }

        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin.AsMemory(), cancellationToken).ConfigureAwait(false);
            }

            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The command did not read its input; its exit status tells the rest.
        }

        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(timeoutCts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            timedOut = !cancellationToken.IsCancellationRequested;
            Kill(process);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            if (!timedOut)
            {
                throw;
            }
        }

        // Output pipes close when every holder exits; do not wait forever on a stray daemon.
        var outputs = Task.WhenAll(stdout, stderr);
        if (await Task.WhenAny(outputs, Task.Delay(TimeSpan.FromSeconds(10), CancellationToken.None)).ConfigureAwait(false) != outputs)
        {
            throw new LabException($"{fileName}: output still open 10 s after exit (a background process kept stdout/stderr)");
        }

        return new ExecResult(timedOut ? 124 : process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false), timedOut);
    }

    public static ExecResult RunSync(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }

        using var process = Process.Start(psi) ?? throw new LabException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            Kill(process);
            return new ExecResult(124, string.Empty, string.Empty, true);
        }

        process.WaitForExit();
        return new ExecResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}
