using System;
using System.Management.Automation;
using System.Threading;
using S3Mount.Engine.Errors;

namespace S3Mount.Commands;

/// <summary>
/// What every S3Mount cmdlet shares: one cancellation source per invocation (Ctrl+C cancels every wait and call),
/// and engine errors mapped to error records with the engine's stable id, a real category and the failing item.
/// </summary>
public abstract class S3MountCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _cancel = new();

    protected CancellationToken Cancellation => _cancel.Token;

    protected override void StopProcessing() => _cancel.Cancel();

    /// <summary>True when this invocation only says what it would do (-WhatIf, or $WhatIfPreference).</summary>
    protected bool IsWhatIf =>
        (MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w) && w is SwitchParameter s && s.IsPresent)
        || LanguagePrimitives.IsTrue(SessionState.PSVariable.GetValue("WhatIfPreference"));

    /// <summary>Bad parameters and unusable environments end the command.</summary>
    protected void Terminate(S3MountException e, object? target = null) =>
        ThrowTerminatingError(ErrorMapping.ToErrorRecord(e, target));

    /// <summary>One failed node or service: the command goes on with the others.</summary>
    protected void Fail(S3MountException e, object? target = null) =>
        WriteError(ErrorMapping.ToErrorRecord(e, target));

    public void Dispose()
    {
        _cancel.Dispose();
        GC.SuppressFinalize(this);
    }
}
