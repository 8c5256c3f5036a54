using System;
using System.Management.Automation;
using System.Threading;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Ssm;

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

    /// <summary>
    /// Credentials and Region the AWS.Tools way (explicit keys, profile, -Credential, $StoredAWSCredentials, environment,
    /// default profile, instance role); where each came from goes to the debug stream. Failures end the command.
    /// </summary>
    protected ResolvedAwsSettings ResolveAws(string? accessKey, string? secretKey, string? sessionToken, string? profileName, string? profileLocation, object? credential, string? region, string? endpointUrl)
    {
        try
        {
            var settings = new AwsSettingsResolver().Resolve(new AwsSettingsRequest
            {
                AccessKey = accessKey,
                SecretKey = secretKey,
                SessionToken = sessionToken,
                ProfileName = profileName,
                ProfileLocation = profileLocation,
                Credential = Shape.Unwrap(credential),
                StoredCredentials = Shape.Unwrap(SessionState.PSVariable.GetValue("StoredAWSCredentials")),
                Region = region,
                StoredRegion = Shape.Unwrap(SessionState.PSVariable.GetValue("StoredAWSRegion"))?.ToString(),
                EndpointUrl = endpointUrl,
            });
            WriteDebug("S3Mount: " + settings.Describe());
            return settings;
        }
        catch (S3MountException e)
        {
            Terminate(e);
            throw;
        }
    }

    public void Dispose()
    {
        _cancel.Dispose();
        GC.SuppressFinalize(this);
    }
}
