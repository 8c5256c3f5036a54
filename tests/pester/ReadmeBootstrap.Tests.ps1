#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The README's bootstrap section, verbatim. Each 'bootstrap' block runs in a fresh pwsh, in a directory that holds what
# the README says is there (./image, an image root with mounts; ./nodeconfig.yaml, an EKS NodeConfig), and must end
# without an error; a 'bootstrap-output' block is what the 'bootstrap' block before it prints, line for line (a line
# '...' stands for any number of lines); a 'bootstrap-recipe' block is the seed recipe's configuration, which must be
# the YAML it claims to be.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'ReadmeBlocks.ps1')
    $blocks = @(Get-ReadmeBlock | Where-Object { $_.Kind -like 'bootstrap*' })
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'ReadmeBlocks.ps1')
    . (Join-Path $PSScriptRoot 'Shared.ps1')
    $script:all = @(Get-ReadmeBlock | Where-Object { $_.Kind -like 'bootstrap*' })
    $script:nodeConfig = "---`napiVersion: node.eks.aws/v1alpha1`nkind: NodeConfig`nspec:`n  cluster:`n    name: ml-cluster`n" +
        "    apiServerEndpoint: https://EXAMPLE.gr7.us-west-2.eks.amazonaws.com`n    certificateAuthority: Y2VydGlmaWNhdGVBdXRob3JpdHk=`n    cidr: 10.100.0.0/16`n"

    # Runs a README block in a fresh pwsh in its own directory; returns what it printed and the errors it wrote.
    function Invoke-ReadmeBlock([string] $Code) {
        $dir = New-S3MountSandbox
        Set-Content -LiteralPath (Join-Path $dir 'nodeconfig.yaml') -Value $nodeConfig -NoNewline
        $image = Join-Path $dir 'image'
        $null = New-Item -ItemType Directory -Path (Join-Path $image 'etc')
        Copy-Item (Join-Path $dir 'etc/*') (Join-Path $image 'etc')
        $script = @"
`$ErrorActionPreference = 'Continue'
Set-Location '$dir'
Import-Module '$ModuleManifest'
`$null = New-S3MountService -Root ./image -Bucket genomics-ref -Path /fsx/ref -ReadOnly -AllowOther -User ec2-user -WarningAction SilentlyContinue
`$Error.Clear()
'S3MOUNT-README-BEGIN'
$Code
'S3MOUNT-README-END'
'ERRORS ' + `$Error.Count
`$Error | ForEach-Object { 'ERROR ' + `$_.FullyQualifiedErrorId + ': ' + `$_ }
"@
        $out = (Invoke-FreshPwsh $script | Out-String) -replace "`r`n", "`n"
        [pscustomobject]@{ Dir = $dir; All = $out; Printed = ($out -split 'S3MOUNT-README-BEGIN\n', 2)[-1] -split '\nS3MOUNT-README-END', 2 | Select-Object -First 1 }
    }

    # True when the README lines match the printed lines, '...' standing for any run of lines.
    function Test-Shown([string[]] $Shown, [string[]] $Printed) {
        $i = 0
        for ($j = 0; $j -lt $Shown.Count; $j++) {
            if ($Shown[$j] -eq '...') {
                $next = if ($j + 1 -lt $Shown.Count) { $Shown[$j + 1] } else { $null }
                if ($null -eq $next) { return $true }
                while ($i -lt $Printed.Count -and $Printed[$i] -ne $next) { $i++ }
                continue
            }
            if ($i -ge $Printed.Count -or $Printed[$i] -ne $Shown[$j]) { return $false }
            $i++
        }
        $i -eq $Printed.Count
    }
}

Describe 'The README bootstrap section, verbatim' -Skip:(-not $IsLinux) {
    It 'the bootstrap block at README line <Line> runs without an error' -ForEach @($blocks | Where-Object Kind -EQ 'bootstrap') {
        $r = Invoke-ReadmeBlock $Code
        try {
            $r.All | Should -Match 'ERRORS 0' -Because $r.All
            foreach ($file in [regex]::Matches($Code, '-OutFile \./(\S+)') | ForEach-Object { $_.Groups[1].Value }) {
                Join-Path $r.Dir $file | Should -Exist
            }
        }
        finally { Remove-Item -LiteralPath $r.Dir -Recurse -Force -ErrorAction SilentlyContinue }
    }

    It 'the output block at README line <Line> is what the block before it prints' -ForEach @($blocks | Where-Object Kind -EQ 'bootstrap-output') {
        $line = $Line
        $command = @($all | Where-Object { $_.Kind -eq 'bootstrap' -and $_.Line -lt $line } | Sort-Object Line)[-1]
        $r = Invoke-ReadmeBlock $command.Code
        try {
            $r.All | Should -Match 'ERRORS 0' -Because $r.All
            $printed = @($r.Printed.TrimEnd("`n") -split "`n")
            Test-Shown ($Code -split "`n") $printed | Should -BeTrue -Because ("the README shows:`n$Code`n`nthe command printed:`n" + ($printed -join "`n"))
        }
        finally { Remove-Item -LiteralPath $r.Dir -Recurse -Force -ErrorAction SilentlyContinue }
    }

    It 'the recipe block at README line <Line> is the YAML of a ParallelCluster custom action' -ForEach @($blocks | Where-Object Kind -EQ 'bootstrap-recipe') {
        $python = (Get-Command python3 -ErrorAction SilentlyContinue).Source
        if (-not $python) { if ($env:CI) { throw 'python3 is required under CI' }; Set-ItResult -Skipped -Because 'python3 is not installed'; return }
        $parsed = $Code | & $python -c "import sys, yaml, json; print(json.dumps(yaml.safe_load(sys.stdin.read())))" | ConvertFrom-Json
        $LASTEXITCODE | Should -Be 0
        @($parsed.CustomActions.OnNodeConfigured.Sequence).Count | Should -BeGreaterThan 0
    }
}
