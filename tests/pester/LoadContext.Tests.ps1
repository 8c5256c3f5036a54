#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }

# S3Mount beside another copy of the AWS SDK, as AWS.Tools brings one: AWS.Tools 4 ships AWSSDK.Core 3.7.x (assembly
# version 3.3.0.0), AWS.Tools 5 a 4.0.x build (assembly version 4.0.0.0, the same identity as S3Mount's own). Each case
# runs in a fresh pwsh (load contexts live as long as the process), with the other SDK loaded before or after S3Mount,
# and uses the fleet cmdlets against the fake SSM (which checks every SigV4 signature) with that SDK's credentials.
Describe 'Beside another AWS SDK in one session' -Skip:(-not $IsLinux) {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Shared.ps1')
        $fake = Start-FakeSsm -Nodes 2 -Offline 0
        $fakeJson = [ordered]@{ Endpoint = $fake.Endpoint; S3Endpoint = $fake.S3Endpoint; Region = $fake.Region; AccessKey = $fake.AccessKey; SecretKey = $fake.SecretKey; Instances = $fake.Instances } |
            ConvertTo-Json -Compress
        $probe = Join-Path $PSScriptRoot 'LoadContextProbe.ps1'
    }

    AfterAll {
        Stop-FakeSsm $fake
    }

    It 'AWSSDK.Core <Sdk> loaded <Order> S3Mount: fleet calls, foreign credentials and presigning work' -ForEach @(
        @{ Sdk = '3.7.402'; Order = 'Before'; AssemblyVersion = '3.3.0.0'; Path = '/mnt/lc1' }
        @{ Sdk = '3.7.402'; Order = 'After'; AssemblyVersion = '3.3.0.0'; Path = '/mnt/lc2' }
        @{ Sdk = '4.0.102.14'; Order = 'Before'; AssemblyVersion = '4.0.0.0'; Path = '/mnt/lc3' }
        @{ Sdk = '4.0.102.14'; Order = 'After'; AssemblyVersion = '4.0.0.0'; Path = '/mnt/lc4' }
    ) {
        $sdkDir = Join-Path $RepoRoot ".tools/awssdk/$Sdk"
        Join-Path $sdkDir 'AWSSDK.Core.dll' | Should -Exist -Because '.ci/setup (or dotnet build) lays out the other SDK builds'
        $out = Invoke-FreshPwsh "& '$probe' -Order $Order -SdkDirectory '$sdkDir' -Manifest '$ModuleManifest' -FakeJson '$fakeJson' -MountPath '$Path'"
        $text = $out | Out-String
        $line = @($out | Where-Object { "$_" -like 'PROBE *' }) | Select-Object -Last 1
        $line | Should -Not -BeNullOrEmpty -Because $text
        $text | Should -Not -Match 'Method not found|Could not load file or assembly|Assembly with same name is already loaded|MissingMethodException'
        $r = "$line".Substring(6) | ConvertFrom-Json

        $r.OtherSdkVersion | Should -Be $AssemblyVersion
        $r.CredentialFromOtherSdk | Should -Be 'Default'
        $r.Errors | Should -BeNullOrEmpty
        $r.Created | Should -Be @($fake.Instances | Sort-Object)
        $r.Listed | Should -Be @($fake.Instances | Sort-Object)
        $r.Left | Should -Be 0
        $r.WhatIfErrors | Should -Be 0
        # The sandbox node refuses to run an install on this machine; what matters is what was sent to it.
        $r.InstallErrorIds | Should -Be @('S3MountSandboxRefused')

        # Only the loader is S3Mount's in the default context, and the only AWSSDK there is the other copy.
        $ours = @($r.DefaultContext | Where-Object { $_ -like 'S3Mount*' })
        $ours.Count | Should -Be 1
        $ours[0] | Should -BeLike 'S3Mount.Loader *'
        @($r.DefaultContext | Where-Object { $_ -like 'AWSSDK.*' }) | ForEach-Object { $_ | Should -BeLike "* $sdkDir/*" }
        $r.ModuleContext | Should -Contain 'S3Mount'
        $r.ModuleContext | Should -Contain 'S3Mount.Engine'
        $r.ModuleContext | Should -Contain 'AWSSDK.Core'
        $r.ModuleContext | Should -Contain 'AWSSDK.S3'
        $r.ModuleContext | Should -Contain 'AWSSDK.SimpleSystemsManagement'
    }

    It 'the install command carried a URL presigned with the other SDK''s credentials, and no key' {
        $scripts = @((Get-FakeSsmState $fake).commands | Where-Object { $_.script -match 'pkg-bucket' } | ForEach-Object script)
        $scripts.Count | Should -Be 4
        foreach ($s in $scripts) {
            $s | Should -Match 'https://pkg-bucket\.s3[.a-z0-9-]*\.amazonaws\.com/mount-s3/mount-s3\.deb\?'
            $s | Should -Match 'X-Amz-Signature=[0-9a-f]{64}'
            $s | Should -Match "X-Amz-Credential=$($fake.AccessKey)%2F"
            $s | Should -Not -Match ([regex]::Escape($fake.SecretKey))
        }
    }
}
