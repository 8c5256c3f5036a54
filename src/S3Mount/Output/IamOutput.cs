using System.Collections.Specialized;
using System.Linq;
using System.Management.Automation;
using S3Mount.Engine.Iam;

namespace S3Mount;

/// <summary>
/// An IAM policy document (Get-S3MountIamPolicy): exactly <c>Version</c> and <c>Statement</c>, so
/// <c>ConvertTo-Json -Depth 6</c> gives the document IAM takes. Each statement is an object of type name
/// <see cref="StatementTypeName"/> with exactly the members IAM reads (Sid, Effect, Action, Resource, and Condition only
/// when there is one): nothing empty or extra reaches the JSON. <c>ToString()</c> is the document as text.
/// </summary>
public sealed class S3MountIamPolicy
{
    /// <summary>The type name of the statements, which the format file's statement view selects.</summary>
    public const string StatementTypeName = "S3Mount.S3MountIamStatement";

    private readonly string _json;

    internal S3MountIamPolicy(IamPolicyDocument document)
    {
        Version = document.Version;
        Statement = document.Statements.Select(ToObject).ToArray();
        _json = document.ToJson();
    }

    public string Version { get; }

    public PSObject[] Statement { get; }

    public override string ToString() => _json;

    private static PSObject ToObject(IamStatement s)
    {
        var o = new PSObject();
        o.TypeNames.Insert(0, StatementTypeName);
        o.Properties.Add(new PSNoteProperty("Sid", s.Sid));
        o.Properties.Add(new PSNoteProperty("Effect", s.Effect));
        o.Properties.Add(new PSNoteProperty("Action", s.Actions.ToArray()));
        o.Properties.Add(new PSNoteProperty("Resource", s.Resources.ToArray()));
        if (s.Conditions.Count > 0)
        {
            var condition = new OrderedDictionary();
            foreach (var op in s.ConditionBlock)
            {
                var keys = new OrderedDictionary();
                foreach (var c in op)
                {
                    keys.Add(c.Key, c.Values.ToArray());
                }

                condition.Add(op.Key, keys);
            }

            o.Properties.Add(new PSNoteProperty("Condition", condition));
        }

        return o;
    }
}
