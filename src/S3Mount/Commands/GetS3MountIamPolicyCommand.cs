using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Iam;
using S3Mount.Engine.Model;

namespace S3Mount.Commands;

/// <summary>
/// The least-privilege IAM policy a node role needs for the given mounts: the same mount parameters as
/// New-S3MountService, or piped mount objects (Get-S3MountService output, or any object whose properties are those
/// names), several at once. Writes one policy for all of them at the end; where a mount cannot be scoped exactly, a
/// warning says so.
/// </summary>
[Cmdlet(VerbsCommon.Get, "S3MountIamPolicy")]
[OutputType(typeof(S3MountIamPolicy))]
[OutputType(typeof(string))]
public sealed class GetS3MountIamPolicyCommand : S3MountCmdlet, IDynamicParameters
{
    // A policy does not depend on where a mount is; a spec needs a path, so one stands in when none is given.
    private const string AnyPath = "/mnt/s3mount-iam-policy";

    private readonly List<IamMountRequest> _mounts = new();
    private RuntimeDefinedParameterDictionary? _fields;
    private HashSet<string> _commandLine = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The piped mounts: objects whose properties are New-S3MountService's parameter names, or Get-S3MountService
    /// output (its Options the base). Read directly, as New-S3MountService reads them (see <see cref="MountInput"/>).
    /// </summary>
    [Parameter(ValueFromPipeline = true)]
    public PSObject? InputObject { get; set; }

    /// <summary>KMS keys the mount's existing objects (or the bucket's or shared cache's default encryption) use.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("KmsKeyArns")]
    public string[]? KmsKeyArn { get; set; }

    /// <summary>The ARN partition for buckets whose Region the mount does not give.</summary>
    [Parameter]
    [ValidateSet("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc")]
    public string? Partition { get; set; }

    /// <summary>Write the policy document as JSON text instead of an object.</summary>
    [Parameter]
    public SwitchParameter AsJson { get; set; }

    /// <summary>New-S3MountService's mount parameters (-Bucket, -Prefix, -ReadOnly, -AllowDelete, -Option, ...); -Path is optional here.</summary>
    public object GetDynamicParameters() => _fields ??= MountFieldParameters.Create(MountSpecFields.Path);

    // What the command line named, before any piped object is bound (a value bound from one piped object stays in
    // BoundParameters for the next, so the objects themselves are read instead).
    protected override void BeginProcessing() => _commandLine = new HashSet<string>(MyInvocation.BoundParameters.Keys, StringComparer.OrdinalIgnoreCase);

    protected override void ProcessRecord()
    {
        var commandLine = MyInvocation.BoundParameters.Where(kv => _commandLine.Contains(kv.Key)).Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value)).ToList();
        var option = _commandLine.Contains(MountFieldParameters.OptionParameter) && MountInput.Plain(MyInvocation.BoundParameters[MountFieldParameters.OptionParameter]) is MountOptions o ? o : null;
        var keys = _commandLine.Contains(nameof(KmsKeyArn)) || InputObject is null ? KmsKeyArn : MountInput.Plain(Shape.Property(InputObject, nameof(KmsKeyArn))) switch
        {
            string k => new[] { k },
            object[] a => a.OfType<string>().ToArray(),
            _ => null,
        };
        if (!_commandLine.Contains(MountSpecFields.Path) && (InputObject is null || Shape.Property(InputObject, MountSpecFields.Path) is null))
        {
            commandLine.Add(new KeyValuePair<string, object?>(MountSpecFields.Path, AnyPath));
        }

        try
        {
            var mount = new IamMountRequest(MountInput.Build(InputObject, commandLine, option), keys);
            IamPolicyBuilder.Validate(mount);
            _mounts.Add(mount);
        }
        catch (S3MountException e)
        {
            // One bad mount: an error for it, and the policy for the others.
            Fail(e, InputObject?.BaseObject ?? e.Target);
        }
    }

    protected override void EndProcessing()
    {
        if (_mounts.Count == 0)
        {
            return;
        }

        IamPolicyResult result;
        try
        {
            result = IamPolicyBuilder.Build(_mounts, Partition);
        }
        catch (S3MountException e)
        {
            Terminate(e);
            return;
        }

        foreach (var g in result.Grants)
        {
            WriteVerbose($"{g.Mount}: {g} - {g.Reason}");
        }

        foreach (var n in result.Notes)
        {
            WriteVerbose(n);
        }

        foreach (var w in result.Warnings)
        {
            WriteWarning(w);
        }

        if (AsJson)
        {
            WriteObject(result.Document.ToJson());
        }
        else
        {
            WriteObject(new S3MountIamPolicy(result.Document));
        }
    }
}
