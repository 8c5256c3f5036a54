using System;
using System.Collections.Concurrent;
using System.Threading.Tasks;
using Amazon.SimpleSystemsManagement.Model;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Engine.Ssm;

namespace S3Mount.Engine.Fleet;

/// <summary>
/// The output fetcher of a fleet run: turns a finished invocation into the node's one result. The output that came with
/// the invocation list (2,500 characters) is used when it holds the whole result; a result cut short is read with
/// GetCommandInvocation (24,000), then from the output bucket (bounded). What the node printed is read by
/// <see cref="NodeResultParser.ReadRun"/>, as untrusted input: a malformed, forged or oversized result is that node's
/// error and touches no other node's.
/// </summary>
internal sealed class OutputFetcher<T>
{
    private readonly FleetState<T> _s;
    private readonly ISsmClient _ssm;
    private readonly ISsmOutputReader? _reader;
    private readonly ConcurrentBag<Task> _pending = new();

    public OutputFetcher(FleetState<T> state, ISsmClient ssm, ISsmOutputReader? reader)
    {
        _s = state;
        _ssm = ssm;
        _reader = reader;
    }

    /// <summary>Reports the node's result now, or after reading its full output (on a worker task).</summary>
    public void Finish(CommandTracker t, CommandInvocation inv, CommandPlugin? plugin)
    {
        var (stdout, stderr) = FleetRunner.SplitPluginOutput(plugin?.Output);
        var cut = (plugin?.Output?.Length ?? 0) >= FleetRunner.DetailsOutputLimit;
        if (ResultBlock.Read(stdout).Status == ResultBlockStatus.Truncated || (cut && !ResultBlock.IsComplete(stdout)))
        {
            _pending.Add(Task.Run(() => FetchFullAsync(t, inv, plugin, stdout, stderr)));
            return;
        }

        Report(t, inv, plugin, stdout, stderr, plugin?.ResponseCode ?? -1, "ListCommandInvocations", cut: false);
    }

    /// <summary>Waits for the full-output reads still running (after a cancel, not longer than the grace).</summary>
    public async Task WaitAsync()
    {
        var all = Task.WhenAll(_pending.ToArray());
        if (_s.Ct.IsCancellationRequested)
        {
            await Task.WhenAny(all, Task.Delay(_s.Options.CancelGrace)).ConfigureAwait(false);
            return;
        }

        try
        {
            await all.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Each read reports its own failure.
        }
    }

    private async Task FetchFullAsync(CommandTracker t, CommandInvocation inv, CommandPlugin? plugin, string stdout, string stderr)
    {
        var id = inv.InstanceId ?? string.Empty;
        var exit = plugin?.ResponseCode ?? -1;
        var source = "ListCommandInvocations";
        var cut = true;
        try
        {
            var full = await GetInvocationAsync(t.CommandId, id).ConfigureAwait(false);
            if (full is not null)
            {
                if (!string.Equals(full.InstanceId, id, StringComparison.Ordinal) || !string.Equals(full.CommandId, t.CommandId, StringComparison.Ordinal))
                {
                    _s.Report(_s.Fail(t.Request, id, FleetOutcome.Failed, SsmErrorIds.S3MountResultInvalid, S3MountErrorKind.InvalidData,
                        "GetCommandInvocation answered for another invocation (" + full.CommandId + " on " + full.InstanceId + "); the output was not used.", t.CommandId, inv));
                    return;
                }

                stdout = full.StandardOutputContent ?? string.Empty;
                stderr = full.StandardErrorContent ?? stderr;
                exit = full.ResponseCode ?? exit;
                source = "GetCommandInvocation";
                cut = stdout.Length >= FleetRunner.StdoutLimit;
            }

            var bucket = string.IsNullOrEmpty(plugin?.OutputS3BucketName) ? _s.Requests[t.Request].OutputS3BucketName : plugin!.OutputS3BucketName;
            if (!ResultBlock.IsComplete(stdout) && !string.IsNullOrEmpty(bucket) && _reader is not null)
            {
                var prefix = string.IsNullOrEmpty(plugin?.OutputS3KeyPrefix) ? _s.Requests[t.Request].OutputS3KeyPrefix : plugin!.OutputS3KeyPrefix;
                var region = string.IsNullOrEmpty(plugin?.OutputS3Region) ? _s.Requests[t.Request].OutputS3Region : plugin!.OutputS3Region;
                try
                {
                    var s3out = await _reader.ReadTextAsync(bucket!, S3OutputReader.OutputKey(prefix, t.CommandId, id, "stdout"), region, _s.Ct).ConfigureAwait(false);
                    if (s3out is not null)
                    {
                        stdout = s3out;
                        source = "S3";
                        cut = false;
                        var s3err = await _reader.ReadTextAsync(bucket!, S3OutputReader.OutputKey(prefix, t.CommandId, id, "stderr"), region, _s.Ct).ConfigureAwait(false);
                        stderr = s3err ?? stderr;
                    }
                }
                catch (S3MountException ex) when (ex.ErrorId == SsmErrorIds.S3MountResultTooLarge)
                {
                    _s.Report(_s.Fail(t.Request, id, FleetOutcome.Failed, ex.ErrorId, ex.Kind, ex.Message, t.CommandId, inv, exit, null, null, "S3"));
                    return;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _s.Report(_s.Fail(t.Request, id, FleetOutcome.OutputTruncated, SsmErrorIds.SsmOutputReadFailed, S3MountErrorKind.ResourceUnavailable,
                        "The output was cut short and reading the full copy from s3://" + bucket + " failed: " + ex.Message, t.CommandId, inv, exit, stdout, stderr));
                    return;
                }
            }

            Report(t, inv, plugin, stdout, stderr, exit, source, cut);
        }
        catch (OperationCanceledException) when (_s.Ct.IsCancellationRequested)
        {
            // The final sweep reports it as cancelled.
        }
        catch (SsmServiceException ex)
        {
            _s.Report(_s.FromException(t.Request, id, ex, t.CommandId));
        }
    }

    private async Task<GetCommandInvocationResponse?> GetInvocationAsync(string commandId, string instanceId)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await _s.Calls.MustAsync(c => _ssm.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = commandId, InstanceId = instanceId }, c)).ConfigureAwait(false);
            }
            catch (SsmInvocationDoesNotExistException) when (attempt < _s.Options.InvocationDoesNotExistRetries)
            {
                await _s.Options.Delay(_s.Options.PollInterval, _s.Ct).ConfigureAwait(false);
            }
            catch (SsmInvocationDoesNotExistException)
            {
                return null;
            }
        }
    }

    private void Report(CommandTracker t, CommandInvocation inv, CommandPlugin? plugin, string stdout, string stderr, int exit, string source, bool cut)
    {
        var id = inv.InstanceId ?? string.Empty;
        var status = inv.Status?.Value;
        if (cut && !ResultBlock.IsComplete(stdout))
        {
            var bucket = _s.Requests[t.Request].OutputS3BucketName;
            _s.Report(_s.Fail(t.Request, id, FleetOutcome.OutputTruncated, SsmErrorIds.S3MountResultTruncated, S3MountErrorKind.InvalidData,
                string.IsNullOrEmpty(bucket)
                    ? "The node's output was cut short by SSM (2,500/24,000 characters) before its result ended. Set -OutputS3BucketName so the full output can be read from S3."
                    : "The node's output was cut short and the full copy was not found in s3://" + bucket + ".",
                t.CommandId, inv, exit, stdout, stderr, source));
            return;
        }

        var (block, error) = NodeResultParser.ReadRun(status == SsmStatus.Success && exit == 0, exit, stdout, stderr, id,
            "The node's result was cut short before its end line. Set -OutputS3BucketName so the full output can be read from S3.");
        if (error is not null)
        {
            var outcome = error.ErrorId == SsmErrorIds.S3MountResultTruncated ? FleetOutcome.OutputTruncated : FleetOutcome.Failed;
            var message = error.ErrorId == SsmErrorIds.SsmCommandFailed && exit == -1
                ? "The script never started on the node (" + (plugin?.StatusDetails ?? inv.StatusDetails ?? "Failed") + ")."
                : error.Message;
            _s.Report(_s.Fail(t.Request, id, outcome, error.ErrorId, error.Kind, message, t.CommandId, inv, exit, stdout, stderr, source));
            return;
        }

        var output = new FleetNodeOutput
        {
            InstanceId = id, CommandId = t.CommandId, RequestIndex = t.Request, ExitCode = exit, Stdout = stdout, Stderr = stderr, Block = block!, OutputSource = source,
        };
        T value;
        try
        {
            value = _s.Parse(output);
        }
        catch (S3MountException ex)
        {
            _s.Report(_s.Fail(t.Request, id, FleetOutcome.Failed, ex.ErrorId, ex.Kind, ex.Message, t.CommandId, inv, exit, stdout, stderr, source));
            return;
        }
        catch (Exception ex)
        {
            _s.Report(_s.Fail(t.Request, id, FleetOutcome.Failed, SsmErrorIds.S3MountResultInvalid, S3MountErrorKind.InvalidData,
                "The node's result could not be read: " + ex.Message, t.CommandId, inv, exit, stdout, stderr, source));
            return;
        }

        _s.Report(new FleetNodeResult<T>
        {
            InstanceId = id, RequestIndex = t.Request, Outcome = FleetOutcome.Succeeded, CommandId = t.CommandId, ExitCode = exit,
            Stdout = stdout, Stderr = stderr, OutputSource = source, Value = value,
            SsmStatus = status, SsmStatusDetails = plugin?.StatusDetails ?? inv.StatusDetails, PlatformName = _s.PlatformOf(id),
        });
    }
}
